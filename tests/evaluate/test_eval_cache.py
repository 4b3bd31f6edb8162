"""An evaluation is computed once: two table rows with the same trained model, protocol and data share it;
other weights, another σ or other frames give another key."""

import json

import pandas as pd
import torch

from workbench.evaluate.cache import evaluation_key, weights_digest
from workbench.pipeline.runner import run_pipeline
from workbench.zoo import build_model

SPEC = """
id: evcache
title: two rows, one model
notebook: restoration
profiles:
  tiny:
    kind: pipeline check
    defaults:
      kind: restoration
      train: {steps: 1, batch_size: 1, patch_size: 32, clip_frames: 3, log_every: 1, checkpoint_every: 1,
              motion: {init: none}}
      evaluate: {dataset: embedded-test, sigmas: [30], max_frames: 3, max_sequences: 1}
    cells:
      - {name: first, method: basicvsr-uni, model: basicvsr-uni, model_args: {num_feat: 4, num_block: 1},
         evaluate: {dataset: embedded-test, sigmas: [30, 50], max_frames: 3, max_sequences: 1}}
      - {name: second, method: basicvsr-uni-again, model: basicvsr-uni, model_args: {num_feat: 4, num_block: 1}}
"""


def test_identical_rows_share_one_evaluation(isolated):
    spec = isolated / "evcache.yaml"
    spec.write_text(SPEC)
    out = run_pipeline(str(spec), "tiny", notebook=False)
    manifest = json.loads((out.version_dir / "manifest.json").read_text())
    notes = {c["cell"]: c["notes"]["evaluation"] for c in manifest["cells"]}
    # the first row evaluates σ 30 and 50, the second only σ 30: that one is the first's
    assert notes["first"]["per_sigma_reused"] == {"30.0": False, "50.0": False}
    assert notes["second"]["per_sigma_reused"] == {"30.0": True}
    m = pd.read_csv(out.version_dir / "measured.csv")
    cols = ["level", "sequence", "setting", "metric", "value", "frames", "noise_seed"]
    a = m[(m["cell"] == "first") & (m["setting"] == "sigma=30")][cols]
    b = m[m["cell"] == "second"][cols]
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert len(list((isolated / "runs" / "eval").glob("*.json"))) == 2


def test_the_key_changes_with_weights_protocol_and_data():
    model = build_model("basicvsr-uni", {"num_feat": 4, "num_block": 1}, seed=0, where="test")
    base = {"protocol": {"sigmas": [30]}, "data": {"d/a.png": "x"}, "subset": {}, "device": "cpu"}
    k = evaluation_key(model, **base)
    assert k == evaluation_key(model, **base)
    assert k != evaluation_key(model, **{**base, "protocol": {"sigmas": [50]}})
    assert k != evaluation_key(model, **{**base, "data": {"d/a.png": "y"}})
    digest = weights_digest(model)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-6
    assert weights_digest(model) != digest and evaluation_key(model, **base) != k


def test_scalar_buffers_are_hashed():
    model = torch.nn.Module()
    model.register_buffer("gain", torch.tensor(256.0))
    a = weights_digest(model)
    model.gain.fill_(255.0)
    assert weights_digest(model) != a
