"""`--set train.steps=N` on a recipe with stages changes what runs, and the manifest records what ran."""

from __future__ import annotations

import csv
import json
from pathlib import Path

SPEC = """
id: {id}
title: a staged recipe shortened from the command line
notebook: restoration
profiles:
  tiny:
    kind: pipeline check
    dataset_map: {{embedded-test: set8}}
    reported_tables: [table6]
    defaults:
      kind: restoration
      train: {{recipe: smoke, motion: {{init: none}}, batch_size: 1, checkpoint_every: 1, log_every: 1}}
      evaluate: {{dataset: embedded-test, sigmas: [50], max_frames: 2, max_sequences: 1}}
    cells:
      - {{name: ncfl-fixedq, method: ncfl-fixedq, model: ncfl,
         model_args: {{preset: fixedq, width_scale: 0.125, cab_blocks: 1}}}}
"""


def test_set_train_steps_reaches_a_staged_recipe(isolated: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    spec = isolated / "shortrun.yaml"
    spec.write_text(SPEC.format(id="shortrun"))
    r = run_cli("run", str(spec), "--profile", "tiny", "--set", "train.steps=3", "--no-notebook")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (isolated / "runs" / "train").glob("ncfl-*")
    with (run_dir / "loss.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(x["step"]) for x in rows] == [1, 2, 3]
    assert all(x["zero_bin_share"] != "" for x in rows)
    manifest = json.loads((isolated / "results" / "shortrun" / "tiny" / "v0001" / "manifest.json").read_text())
    assert manifest["overrides"] == {"train": {"steps": 3}}
    cell = manifest["cells"][0]
    assert cell["params"]["train"]["steps"] == 3 and cell["params"]["train"]["recipe"] == "smoke"
    assert cell["notes"]["train"]["schedule"]["aux_stage_ends"][0][0] == 2  # 0.8 of 3 steps, rounded
    assert cell["notes"]["train"]["steps"] == 3
