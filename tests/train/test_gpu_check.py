"""``workbench bench gpu-check``: refused in one line without CUDA, its plan listed by ``--dry-run`` on any
machine, and (CUDA check bypassed) a few of its checks run at tiny sizes on the CPU into the one CSV."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import torch

from workbench.train import gpu_check
from workbench.train.gpu_check import COLUMNS, RUNTIME_MODELS, TRAIN_MODELS, GpuCheckSettings, run_gpu_check

Cli = Callable[..., CompletedProcess[str]]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is visible: nothing to refuse")
def test_refused_in_one_line_without_cuda(cli: Cli, isolated: Path) -> None:
    r = cli("bench", "gpu-check")
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
    assert "needs a CUDA device" in r.stderr and "--dry-run" in r.stderr
    assert not (isolated / "runs" / "gpu_check").exists()


def test_dry_run_lists_every_check(cli: Cli, isolated: Path) -> None:
    r = cli("bench", "gpu-check", "--dry-run", "--out", str(isolated / "g.csv"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("would run 20 checks on cuda (budget 300 s)") and str(isolated / "g.csv") in lines[0]
    names = [line.strip().split(":")[0] for line in lines[1:]]
    assert names[: len(TRAIN_MODELS)] == [f"train-bf16 {n}" for n, _, _ in TRAIN_MODELS]
    assert {"train-bf16 ncfl-Md", "train-bf16 ncfl-bi", "train-bf16 basicvsrpp-bi", "train-bf16 edvr"} <= set(names)
    assert "bf16-vs-fp32 ncfl-Md" in names and "loader" in names
    assert [n for n in names if n.startswith("runtime ")] == [f"runtime {m}" for m in RUNTIME_MODELS]
    assert all("960x540" in line for line in lines if line.strip().startswith("runtime "))
    assert {"deform plain", "deform torchvision"} <= set(names)
    assert not (isolated / "g.csv").exists()


def test_some_checks_at_tiny_sizes_write_the_csv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                  one_torch_thread: None) -> None:
    monkeypatch.setattr(gpu_check, "require_cuda", lambda device: None)
    tiny = GpuCheckSettings(train_steps=1, train_batch=1, train_patch=32, clip_frames=3, loader_workers=1,
                            loader_batch=1, loader_batches=2, loader_patch=32, runtime_resolution=(64, 48),
                            runtime_repeats=1, deform_repeats=1, deform_shape=(1, 16, 12, 16))
    keep = {"train-bf16 fastdvdnet", "loader", "runtime fastdvdnet", "deform plain"}
    out = run_gpu_check(device="cpu", out=tmp_path / "g.csv", settings=tiny, only=lambda c: c.name in keep,
                        print_fn=lambda _: None)
    with out.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        rows = list(reader)
    assert {r["check"] for r in rows} == keep | {"environment", "total"}
    assert all(r["status"] == "ok" for r in rows), [r for r in rows if r["status"] != "ok"]
    metric = {(r["check"], r["metric"]): r["value"] for r in rows}
    assert metric[("train-bf16 fastdvdnet", "all_losses_finite")] == "1"
    assert float(metric[("runtime fastdvdnet", "ms_per_frame")]) > 0
    assert float(metric[("runtime fastdvdnet", "ratio_fastdvdnet")]) == 1.0
    assert float(metric[("deform plain", "train_ratio")]) > 0
    assert float(metric[("loader", "clips_per_s")]) > 0
