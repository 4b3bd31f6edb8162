"""``workbench eval`` and the spec's ``checkpoint: {path, format}``: official file formats, a published version
beside the workbench's rows and the paper's numbers, restored frames as 8-bit PNG."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from _plugin_helpers import EXAMPLE, REPO, write_spec
from PIL import Image

from baselines.fastdvdnet import FastDVDNet, load_official_fastdvdnet
from workbench import api
from workbench.checkpoint_formats import CheckpointRef, load_checkpoint
from workbench.data.catalog import open_dataset
from workbench.errors import CheckpointError, ConfigError
from workbench.evaluate.metrics import psnr
from workbench.pipeline.runner import run_pipeline
from workbench.store import versions
from workbench.zoo import build_model

TINY_EVAL = ["--set", "evaluate.max_frames=3", "--set", "evaluate.sigmas=[20]", "--set", "evaluate.max_sequences=1"]


def _publish_previous_table1() -> None:
    """A published table1/smoke version holding the workbench's own rows (copied from the repository)."""
    staging = versions.new_staging("table1", "smoke")
    shutil.copy(REPO / "results" / "table1" / "smoke" / "v0001" / "measured.csv", staging / "measured.csv")
    (staging / "manifest.json").write_text("{}")
    versions.publish(staging, "table1", "smoke", created_utc="2026-01-01T00:00:00Z", git_commit="test")


def _dataset_value(df: pd.DataFrame, method: str, metric: str = "psnr_db", col: str = "value") -> float:
    rows = df[(df["method"] == method) & (df["metric"] == metric)]
    if "level" in df.columns:
        rows = rows[rows["level"] == "dataset"]
    return float(rows[col].iloc[0])


def test_eval_publishes_beside_the_workbench_rows_and_the_paper(isolated, cli, monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    torch.manual_seed(3)
    weights = build_model("tiny_denoiser:build", {"width": 4}, seed=3, where="test").state_dict()
    ckpt = tmp_path / "tiny_basicsr.pth"
    torch.save({"params": weights, "params_ema": weights}, ckpt)  # BasicSR's layout
    _publish_previous_table1()
    frames_dir = tmp_path / "frames"
    r = cli("eval", "tiny_denoiser:build", "--checkpoint", str(ckpt), "--format", "basicsr", "--method", "tiny",
            "--model-arg", "width=4", "--table", "table1", *TINY_EVAL, "--save-frames", str(frames_dir),
            "--no-notebook")
    assert r.returncode == 0, r.stderr
    version = isolated / "results" / "table1" / "smoke" / "v0002"
    assert str(version) in r.stdout
    measured = pd.read_csv(version / "measured.csv")
    assert set(measured["row_source"]) == {"table1/smoke/v0001", "this version (workbench eval)"}
    seq_rows = measured[(measured["method"] == "tiny") & (measured["level"] == "sequence")]
    assert len(seq_rows) == 2 and seq_rows["sequence"].iloc[0]  # per-sequence rows (PSNR, SSIM)
    comp = pd.read_csv(version / "comparison.csv")
    fdv = comp[(comp["method"] == "fastdvdnet") & (comp["setting"] == "sigma=20") & (comp["metric"] == "psnr_db")]
    assert fdv["value_measured"].notna().all() and fdv["value_reported"].notna().all()
    tiny = _dataset_value(comp, "tiny", col="value_measured")
    # the weights in the BasicSR file were used: the same as evaluating them from Python
    direct = api.evaluate("tiny_denoiser:build", "embedded-test", model_args={"width": 4}, checkpoint=ckpt,
                          fmt="basicsr", sigmas=[20], max_frames=3, max_sequences=1)
    assert tiny == pytest.approx(_dataset_value(direct, "tiny_denoiser:build", col="value"), abs=1e-9)
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["eval"]["checkpoint"] == {"path": str(ckpt), "format": "basicsr"}
    assert manifest["overrides"] == {"evaluate": {"max_frames": 3, "sigmas": [20], "max_sequences": 1}}
    # restored frames: 8-bit PNG, and they are the frames that were scored
    seq = open_dataset("embedded-test", max_frames=3, max_sequences=1)[0]
    pngs = sorted((frames_dir / "sigma20" / seq.name).glob("*.png"))
    assert [p.name for p in pngs] == ["00000.png", "00001.png", "00002.png"]
    imgs = [np.asarray(Image.open(p)) for p in pngs]
    assert imgs[0].dtype == np.uint8 and imgs[0].shape == seq.frame(0).shape
    png_psnr = np.mean([psnr(seq.frame(t), imgs[t].astype(np.float32) / 255) for t in range(3)])
    assert png_psnr == pytest.approx(tiny, abs=0.1)


def test_spec_checkpoint_key_takes_a_basicsr_file(isolated, user_module, tmp_path):
    ckpt = tmp_path / "half.pth"
    torch.save({"params": {"scale": torch.tensor([0.5])}}, ckpt)
    model = f"{user_module.name}:build"
    spec = write_spec(isolated, "ckptspec", [
        f"{{name: plain, method: plain, model: '{model}'}}",
        f"{{name: half, method: half, model: '{model}', checkpoint: {{path: '{ckpt}', format: basicsr}}}}"])
    s = run_pipeline(str(spec), "smoke", notebook=False)
    df = pd.read_csv(s.version_dir / "measured.csv")
    assert _dataset_value(df, "half") < _dataset_value(df, "plain") - 3  # frames halved: far worse PSNR
    manifest = json.loads((s.version_dir / "manifest.json").read_text())
    half = [c for c in manifest["cells"] if c["cell"] == "half"][0]
    assert "basicsr state dict" in half["notes"]["checkpoint"]
    bad = write_spec(isolated, "badspec", [f"{{name: half, method: half, model: '{model}', checkpoint: '{ckpt}'}}"])
    with pytest.raises(CheckpointError, match="needs format basicsr"):
        run_pipeline(str(bad), "smoke", notebook=False)


def test_official_layouts_load_through_the_importers(tmp_path, user_module):
    official = REPO / "tests" / "data_parity" / "fastdvdnet_ref_weights.pth"
    model = FastDVDNet()
    note = load_checkpoint("fastdvdnet", model, CheckpointRef(str(official), "fastdvdnet"))
    ref = load_official_fastdvdnet(official).state_dict()
    assert "official FastDVDNet" in note and all(torch.equal(v, ref[k]) for k, v in model.state_dict().items())
    with pytest.raises(ConfigError, match="format 'fastdvdnet' is for model 'fastdvdnet'"):
        load_checkpoint("edvr", model, CheckpointRef(str(official), "fastdvdnet"))
    # EDVR from a BasicSR file, through baselines.importers_basicsr
    args = {"num_feat": 16, "num_extract_block": 1, "num_reconstruct_block": 1, "deformable_groups": 2}
    src = build_model("edvr", args, seed=1, where="test")
    torch.save({"params": src.state_dict()}, tmp_path / "edvr.pth")
    dst = build_model("edvr", args, seed=2, where="test")
    assert "importers_basicsr" in load_checkpoint("edvr", dst, CheckpointRef(str(tmp_path / "edvr.pth"), "basicsr"))
    assert all(torch.equal(v, src.state_dict()[k]) for k, v in dst.state_dict().items())
    # a plugin model from an MMagic file (generic rule: state_dict, generator. prefix)
    torch.save({"state_dict": {"generator.scale": torch.tensor([0.25])}, "meta": {}}, tmp_path / "mm.pth")
    net = build_model(f"{user_module.name}:build", {}, seed=0, where="test")
    load_checkpoint(f"{user_module.name}:build", net, CheckpointRef(str(tmp_path / "mm.pth"), "mmagic"))
    assert float(net.scale.detach()) == 0.25


def test_eval_needs_a_restoration_protocol(isolated, cli):
    r = cli("eval", "noisy-input", "--table", "complexity", "--no-notebook")
    assert r.returncode == 2 and "no restoration cell" in r.stderr


def test_eval_of_the_official_fastdvdnet_file_joins_the_papers_row(isolated, cli):
    """`workbench eval fastdvdnet --checkpoint <official layout> --table table1 --profile smoke`."""
    official = REPO / "tests" / "data_parity" / "fastdvdnet_ref_weights.pth"
    r = cli("eval", "fastdvdnet", "--checkpoint", str(official), "--format", "fastdvdnet", "--table", "table1",
            "--profile", "smoke", "--set", "evaluate.max_frames=5", "--set", "evaluate.sigmas=[20]",
            "--set", "evaluate.max_sequences=1", "--no-notebook")
    assert r.returncode == 0, r.stderr
    (version,) = (isolated / "results" / "table1" / "smoke").glob("v*")
    comp = pd.read_csv(version / "comparison.csv")
    row = comp[(comp["method"] == "fastdvdnet") & (comp["setting"] == "sigma=20") & (comp["metric"] == "psnr_db")
               & comp["value_measured"].notna()]
    assert len(row) == 1 and row["value_reported"].notna().all()  # the paper's FastDVDNet row, joined
    assert 0 < float(row["value_measured"].iloc[0]) < 60
