"""The cost planner on a tiny spec: one row per training cell, distinct models timed once, the stated pixel
scaling, device-hours = step × steps, and the jobs and GPUs the executor would ask for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.pipeline import plan as planner

TINY = """
id: tinyplan
title: tiny planner check
notebook: restoration
profiles:
  tiny:
    resources: {gpus: 2}
    defaults:
      kind: restoration
      train: {steps: 3600, batch_size: 2, patch_size: 32, clip_frames: 3}
      evaluate: {dataset: embedded-test, sigmas: [20], max_frames: 2, max_sequences: 1}
    cells:
      - {name: noisy-input, method: noisy-input, model: noisy-input, train: null}
      - {name: a, method: a, model: basicvsr-uni, model_args: {num_feat: 4, num_block: 1}}
      - {name: a-again, method: a2, model: basicvsr-uni, model_args: {num_feat: 4, num_block: 1},
         evaluate: {dataset: embedded-test, sigmas: [30], max_frames: 2, max_sequences: 1}}
      - {name: b, method: b, model: basicvsr-uni, model_args: {num_feat: 8, num_block: 1},
         resources: {gpus: 4}}
"""


@pytest.fixture
def tiny_spec(tmp_path: Path) -> Path:
    path = tmp_path / "tinyplan.yaml"
    path.write_text(TINY)
    return path


def test_plan_rows_scaling_and_totals(tiny_spec: Path, monkeypatch: pytest.MonkeyPatch,
                                      one_torch_thread: None) -> None:
    calls = []
    real = planner.time_training_step

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["patch"])
        return real(*args, **kwargs)

    monkeypatch.setattr(planner, "time_training_step", counting)
    df = planner.plan(str(tiny_spec), "tiny", patch=16, steps=1, warmup=0)
    assert list(df.columns) == planner.PLAN_COLUMNS
    assert list(df["cell"]) == ["a", "a-again", "b"]  # the noisy-input row does not train
    assert calls == [16, 16]  # "a" and "a-again" are one model: timed once
    assert (df["scale"] == 4.0).all()  # measured at 16 px, recipe 32 px: × (32/16)²
    assert df.loc[0, "step_s"] == df.loc[1, "step_s"] > 0
    assert df["device_hours"].tolist() == pytest.approx(df["step_s"].tolist())  # 3600 steps: hours = seconds
    assert df["gpus_per_job"].tolist() == [2, 2, 4]
    assert df["wall_hours"].tolist() == pytest.approx((df["device_hours"] / df["gpus_per_job"]).tolist())
    lines = planner.summary_lines(df, "cpu")
    assert lines[0].startswith("measured on: ")
    assert "6 jobs (3 training + 3 evaluation), up to 8 GPUs at once" in lines[2]


def test_plan_cli_writes_the_csv(tiny_spec: Path, tmp_path: Path, cli, one_torch_thread: None) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "plan.csv"
    r = cli("plan", str(tiny_spec), "--profile", "tiny", "--patch", "16", "--steps", "1", "--warmup", "0",
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "device-hours over 3 training cells" in r.stdout and "measured on:" in r.stdout
    assert len(pd.read_csv(out)) == 3
