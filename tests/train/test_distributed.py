"""Data-parallel training (``torchrun``, gloo on CPU) matches one process on the same global batch.

Run as a script under ``torchrun --nproc-per-node N`` this file is the worker: it trains a tiny BasicVSR
(no BatchNorm; its SPyNet in the motion group, frozen for the first steps) on seeded random clips with
:func:`workbench.train.loop.train` and the process group of :func:`workbench.train.distributed.from_env`.

Tolerance: the two ranks' gradients are summed by the all-reduce and halved, where one process sums the
same per-clip terms inside the convolution backward in another order; float32 rounding then differs in
the last bits and Adam carries it forward. Over a few steps at lr 1e-3 the weights agree to ``ATOL``
(measured: 1.2e-7 in the largest element after 4 steps), far below one step's
update (~lr).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.errors import ConfigError
from workbench.paths import REPO_ROOT
from workbench.train import distributed
from workbench.train.spec import MotionSpec, TrainSpec

ATOL = 1e-6
STEPS = 4
TORCHRUN = Path(sys.executable).with_name("torchrun")


def _spec(steps: int = STEPS) -> TrainSpec:
    return TrainSpec(steps=steps, batch_size=4, patch_size=32, clip_frames=3, lr=1e-3, log_every=1,
                     checkpoint_every=2, seed=5, motion=MotionSpec(lr_mult=0.5, frozen_until=0.25))


def _data():  # type: ignore[no-untyped-def]
    from workbench.data.sequence import ArraySequence  # lazy: the worker imports it after torchrun starts

    rng = np.random.default_rng(0)
    return [ArraySequence(f"s{i}", rng.random((6, 40, 40, 3)).astype(np.float32)) for i in range(2)]


def _model():  # type: ignore[no-untyped-def]
    from workbench.zoo import build_model  # lazy: the worker imports it after torchrun starts

    return build_model("basicvsr-uni", {"num_feat": 8, "num_block": 1}, seed=0, where="test")


def _worker(out: str, steps: int, stop_after: int | None) -> None:
    from workbench.train.loop import train  # lazy: only the torchrun worker trains

    info = distributed.from_env("cpu")
    torch.set_num_threads(1)
    train(model=_model(), spec=_spec(steps), train_sequences=_data(), out_dir=Path(out), progress=False,
          stop_after=stop_after, parallel=info)
    distributed.shutdown(info)


def _launch(nproc: int, out: Path, stop_after: int | None = None) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    cmd = [str(TORCHRUN), "--standalone", "--nproc-per-node", str(nproc), __file__, str(out), str(STEPS),
           str(stop_after or 0)]
    if nproc == 1:  # the single-process reference runs without torchrun: the unchanged loop
        cmd = [sys.executable, __file__, str(out), str(STEPS), str(stop_after or 0)]
    r = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]


def _max_diff(a: Path, b: Path) -> float:
    sa, sb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert sa.keys() == sb.keys()
    return max(float((sa[k].double() - sb[k].double()).abs().max()) for k in sa)


def test_two_gloo_ranks_match_one_process(tmp_path: Path) -> None:
    _launch(1, tmp_path / "one")
    _launch(2, tmp_path / "two")
    diff = _max_diff(tmp_path / "one" / "model.pt", tmp_path / "two" / "model.pt")
    print(f"max |w_1proc - w_2proc| after {STEPS} steps: {diff:.3e}")
    assert diff <= ATOL
    log = (tmp_path / "two" / "loss.csv").read_text().splitlines()
    assert len(log) == STEPS + 1  # rank 0 alone wrote the log


def test_resume_under_another_world_size(tmp_path: Path) -> None:
    """Killed after step 3 of a 2-rank run (checkpoint at step 2), resumed by one process: same weights."""
    _launch(1, tmp_path / "straight")
    _launch(2, tmp_path / "resumed", stop_after=3)
    assert not (tmp_path / "resumed" / "model.pt").exists()
    assert int(torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)["step"]) == 2
    _launch(1, tmp_path / "resumed")
    diff = _max_diff(tmp_path / "straight" / "model.pt", tmp_path / "resumed" / "model.pt")
    print(f"max |w_straight - w_resumed(2→1 ranks)|: {diff:.3e}")
    assert diff <= ATOL


def test_workbench_train_under_torchrun_records_world_size(tmp_path: Path) -> None:
    """The real command: ``torchrun --nproc-per-node 2 -m workbench.cli train``; rank 0 writes the folder."""
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: basicvsr-uni\nmodel_args: {num_feat: 4, num_block: 1}\n"
                   "train: {steps: 2, batch_size: 2, patch_size: 16, clip_frames: 3, log_every: 1}\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    r = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "workbench.cli", "train",
                        "--config", str(cfg), "--out", str(tmp_path / "out")], cwd=REPO_ROOT, env=env,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["distributed"] == {"world_size": 2, "backend": "gloo", "batchnorm": "none"}
    assert (tmp_path / "out" / "model.pt").is_file()


def test_shard_rule_and_batch_check() -> None:
    info = distributed.DistInfo(rank=1, world_size=2, local_rank=1, backend="gloo")
    x = torch.arange(6)
    assert distributed.shard(x, info).tolist() == [1, 3, 5]
    assert distributed.shard(x, None) is x
    with pytest.raises(ConfigError, match="not divisible by the world size 4"):
        distributed.check_batch(6, distributed.DistInfo(0, 4, 0, "gloo"))
    distributed.check_batch(6, None)


def test_backend_and_batchnorm_rule() -> None:
    from baselines.fastdvdnet import FastDVDNet  # lazy: one test needs a BatchNorm model

    assert distributed.backend_for("cuda:0") == "nccl" and distributed.backend_for("cpu") == "gloo"
    gloo = distributed.DistInfo(0, 2, 0, "gloo")
    nccl = distributed.DistInfo(0, 2, 0, "nccl")
    assert distributed.batchnorm_rule(FastDVDNet(), gloo) == "per-rank"
    assert distributed.batchnorm_rule(FastDVDNet(), nccl) == "sync"
    assert distributed.batchnorm_rule(FastDVDNet(), None) == "none"
    assert distributed.describe(None) == {"world_size": 1, "backend": "none"}


def test_no_torchrun_means_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.from_env("cpu") is None


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) or None)
