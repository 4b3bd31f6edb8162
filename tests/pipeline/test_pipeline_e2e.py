"""End-to-end: the real `workbench` commands on a tiny profile; versioning and cell reuse."""

import json

import pandas as pd

TINY = """
id: {id}
title: tiny end-to-end check
notebook: restoration
profiles:
  tiny:
    kind: pipeline check
    dataset_map: {{embedded-test: set8}}
    reported_tables: [table1]
    defaults:
      kind: restoration
      train: {{steps: 2, batch_size: 1, patch_size: 32, log_every: 1, checkpoint_every: 1}}
      evaluate: {{dataset: embedded-test, sigmas: [20], max_frames: 5, max_sequences: 1}}
    cells:
      - {{name: fastdvdnet, method: fastdvdnet, model: fastdvdnet}}
"""


def test_run_twice_makes_two_versions_and_reuses_cells(isolated, run_cli):
    spec = isolated / "tiny1.yaml"
    spec.write_text(TINY.format(id="tiny1"))
    r = run_cli("run", str(spec), "--profile", "tiny")
    assert r.returncode == 0, r.stderr
    assert "without encryption" not in r.stderr  # the kernel talks over IPC: no spurious TCP warning
    v1 = isolated / "results" / "tiny1" / "tiny" / "v0001"
    for name in ("measured.csv", "comparison.csv", "manifest.json", "restoration.ipynb", "figures/tiny1.png"):
        assert (v1 / name).is_file(), name
    measured = pd.read_csv(v1 / "measured.csv")
    ds = measured[(measured["level"] == "dataset") & (measured["metric"] == "psnr_db")]
    assert len(ds) == 1 and 0 < ds["value"].iloc[0] < 60  # 2 training steps: a pipeline check
    assert set(measured["protocol_averaging"]) == {"frame>sequence>dataset"}
    manifest = json.loads((v1 / "manifest.json").read_text())
    assert manifest["result_kind"] == "pipeline check"
    assert manifest["provenance"]["git_commit"] and manifest["cells"][0]["input_checksums"]
    comp = pd.read_csv(v1 / "comparison.csv")
    row = comp[(comp["method"] == "fastdvdnet") & (comp["setting"] == "sigma=20") & (comp["metric"] == "psnr_db")]
    assert row["value_reported"].notna().all() and row["value_measured"].notna().all()
    assert (row["dataset_measured"] == "embedded-test").all()
    train_runs = list((isolated / "runs" / "train").glob("fastdvdnet-*"))
    assert len(train_runs) == 1
    assert {"config.yaml", "loss.csv", "checkpoint.pt", "model.pt"} <= {p.name for p in train_runs[0].iterdir()}

    r2 = run_cli("run", str(spec), "--profile", "tiny")
    assert r2.returncode == 0, r2.stderr
    assert "reusing cell fastdvdnet" in r2.stderr
    v2 = v1.parent / "v0002"
    assert v2.is_dir() and (v1 / "measured.csv").read_bytes() != b""
    pd.testing.assert_frame_equal(pd.read_csv(v1 / "measured.csv"), pd.read_csv(v2 / "measured.csv"))
    index = pd.read_csv(isolated / "results" / "index.csv")
    assert list(index["version"]) == ["v0001", "v0002"]
    listing = run_cli("results", "list")
    assert "v0002" in listing.stdout
