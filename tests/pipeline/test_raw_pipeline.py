"""End-to-end raw pipeline (Table 2's shape) with the real `workbench run` command on the embedded raw clips:
every method of the paper's Table 2 gets a dataset-level raw PSNR/SSIM row joined to the reported one,
per-ISO rows, complexity rows and runtime ratios to FastDVDNet from one run."""

import pandas as pd

from workbench.pipeline.spec import expand, load_spec
from workbench.store.reported import reported_for

TINY = """
id: rawtiny
title: tiny raw end-to-end check
notebook: restoration
profiles:
  tiny:
    kind: pipeline check
    dataset_map: {embedded-raw-test: crvd}
    reported_tables: [table2]
    defaults:
      kind: raw-restoration
      train: {recipe: raw-smoke, steps: 2, batch_size: 1, log_every: 1, checkpoint_every: 2}
      evaluate: {dataset: embedded-raw-test, max_frames: 3, max_sequences: 1, isos: [1600, 25600]}
    cells:
      - {name: noisy-input, method: noisy-input, model: noisy-input, train: null}
      - {name: fastdvdnet, method: fastdvdnet, model: fastdvdnet-raw, model_args: {base_channels: 4}}
      - {name: edvr, method: edvr, model: edvr-raw,
         model_args: {num_feat: 8, num_extract_block: 1, num_reconstruct_block: 1, deformable_groups: 2}}
      - {name: rvidenet, method: rvidenet, model: rvidenet,
         model_args: {nf: 4, predenoiser_channels: 4, front_RBs: 1, back_RBs: 1}}
      - {name: emvd-l, method: emvd-l, model: emvd, model_args: {channels: 8, feat_layers: 3}}
      - {name: emvd-s, method: emvd-s, model: emvd-s}
      - {name: basicvsr-uni, method: basicvsr-uni, model: basicvsr-uni-raw, model_args: {num_feat: 8, num_block: 1}}
      - {name: basicvsrpp-uni, method: basicvsrpp-uni, model: basicvsrpp-uni-raw,
         model_args: {num_feat: 8, num_block: 1, deformable_groups: 2}}
      - {name: ncfl-uni, method: ncfl-uni, model: ncfl,
         model_args: {preset: Md, in_channels: 4, width_scale: 0.125, cab_blocks: 1}}
      - {name: ncfl-l, method: ncfl-l, model: ncfl,
         model_args: {preset: L, in_channels: 4, width_scale: 0.125, cab_blocks: 1}}
      - name: complexity
        kind: raw-complexity
        train: null
        evaluate: null
        runtime_resolution: "64x32"
        runtime_warmup: 0
        repeats: 1
        runtime_clip_frames: 2
        methods:
          fastdvdnet: {model: fastdvdnet-raw}
          rvidenet: {model: rvidenet}
          emvd-l: {model: emvd-l}
          emvd-s: {model: emvd-s}
          ncfl-l: {model: ncfl, model_args: {preset: L, in_channels: 4}}
"""

TABLE2_METHODS = sorted(set(reported_for(["table2"])["method"]))


def test_raw_pipeline_end_to_end(isolated, run_cli):
    spec = isolated / "rawtiny.yaml"
    spec.write_text(TINY)
    r = run_cli("run", str(spec), "--profile", "tiny")
    assert r.returncode == 0, r.stderr
    v1 = isolated / "results" / "rawtiny" / "tiny" / "v0001"
    measured = pd.read_csv(v1 / "measured.csv")
    comp = pd.read_csv(v1 / "comparison.csv")
    raw = comp[(comp["setting"] == "raw") & comp["value_measured"].notna()]
    for method in TABLE2_METHODS:
        for metric in ("psnr_db", "ssim"):
            row = raw[(raw["method"] == method) & (raw["metric"] == metric)]
            assert len(row) == 1 and row["value_reported"].notna().all(), (method, metric)
    iso = measured[measured["level"] == "iso"]
    assert set(iso["setting"]) == {"ISO1600", "ISO25600"}
    floor = measured[(measured["method"] == "noisy-input") & (measured["level"] == "iso") &
                     (measured["metric"] == "psnr_db")].set_index("setting")["value"]
    assert floor["ISO1600"] > floor["ISO25600"] + 5  # ~12 dB apart: the noise grows with ISO
    assert set(measured["protocol_prediction"].dropna()) == {"clip01>uint16-truncate"}
    cx = measured[measured["cell"] == "complexity"].set_index(["method", "metric"])["value"]
    assert cx[("rvidenet", "params_m")] > 8.5 and cx[("emvd-s", "params_m")] < 0.05
    assert cx[("fastdvdnet", "runtime_ratio_fastdvdnet")] == 1.0
    assert cx[("emvd-l", "runtime_ratio_fastdvdnet")] > 0 and cx[("ncfl-l", "gflops_paper")] > 1000


def test_table2_spec_has_every_method_of_the_paper() -> None:
    for profile in ("smoke", "full"):
        cells = expand(load_spec("table2"), profile)
        methods = {p.method for _, kind, p in cells if kind == "raw-restoration"}
        assert set(TABLE2_METHODS) <= methods, profile
        timed = [p for _, kind, p in cells if kind == "raw-complexity"]
        assert len(timed) == 1 and set(TABLE2_METHODS) == set(timed[0].methods)
    full = {n: p for n, k, p in expand(load_spec("table2"), "full") if k == "raw-restoration"}
    assert full["ncfl-l"].pretrain.dataset == "srvd" and full["ncfl-l"].train.dataset == "crvd-train"
    assert full["ncfl-l"].train.noise == "raw-pair" and full["ncfl-l"].evaluate.dataset == "crvd"
