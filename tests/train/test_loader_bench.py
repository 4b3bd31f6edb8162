"""``workbench bench loader`` prints, in one run, the loader's clips/s at 0 and N workers, the model's
training steps/s and their ratios (tiny sizes: a few seconds on a CPU)."""

from __future__ import annotations

from collections.abc import Callable
from subprocess import CompletedProcess

from workbench.train.loader_bench import benchmark_loader


def test_bench_loader_prints_both_rates_and_the_ratio(cli: Callable[..., CompletedProcess[str]],
                                                      one_torch_thread: None) -> None:
    r = cli("bench", "loader", "--workers", "2", "--batch", "2", "--patch", "32", "--batches", "3",
            "--steps", "1", "--warmup", "0")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.strip().startswith("workers 0:") and "clips/s" in line for line in lines)
    assert any(line.strip().startswith("workers 2:") and "clips/s" in line for line in lines)
    assert any(line.startswith("model: fastdvdnet") and "steps/s" in line for line in lines)
    assert any(line.startswith("loader / model: workers 0") and "workers 2" in line for line in lines)


def test_result_rows_and_ratio(one_torch_thread: None) -> None:
    res = benchmark_loader(workers=1, batch=1, patch=32, batches=2, steps=1, warmup=0, model="ncfl",
                           model_args={"preset": "Md", "width_scale": 0.125, "cab_blocks": 1}, clip_frames=3)
    assert [r.workers for r in res.loader] == [0, 1] and res.clip_frames == 3
    assert all(r.clips_per_s > 0 for r in res.loader) and res.model_steps_per_s > 0
    assert res.ratio(res.loader[0]) == res.loader[0].clips_per_s / (res.model_steps_per_s * res.batch)
    assert {row["metric"] for row in res.rows()} == {"clips_per_s", "first_batch_s", "loader_over_model",
                                                     "steps_per_s"}


def test_bad_sizes_name_the_option(cli: Callable[..., CompletedProcess[str]]) -> None:
    r = cli("bench", "loader", "--batches", "1")
    assert r.returncode == 2 and "batches=1; use 2 or more" in r.stderr and len(r.stderr.splitlines()) == 1
