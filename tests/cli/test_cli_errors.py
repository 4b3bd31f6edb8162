"""Bad input ends in one clear line, a non-zero exit, and nothing partial in results/."""

import numpy as np
import torch
from PIL import Image

SPEC = """
id: {id}
title: bad input check
notebook: restoration
profiles:
  tiny:
    defaults:
      kind: restoration
      evaluate: {{dataset: {dataset}, sigmas: [20], max_frames: 2, max_sequences: 1}}
    cells:
      - {{name: m, method: fastdvdnet, model: fastdvdnet{extra}}}
"""


def _assert_one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [line for line in r.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def _no_results(isolated, table):
    d = isolated / "results" / table
    assert not d.exists() or not any(p.name.startswith("v") for p in d.rglob("*") if p.is_dir())


def test_missing_dataset_root(isolated, cli):
    spec = isolated / "bad1.yaml"
    spec.write_text(SPEC.format(id="bad1", dataset="set8", extra=""))
    r = cli("--data-root", str(isolated / "nowhere"), "run", str(spec), "--profile", "tiny")
    _assert_one_line_error(r, "Set8")
    _no_results(isolated, "bad1")
    c = cli("data", "check", "set8", "--root", str(isolated / "nowhere"))
    assert c.returncode != 0 and "Set8" in c.stdout


def test_mislaid_set8_is_reported(isolated, cli):
    root = isolated / "data" / "Set8"
    root.mkdir(parents=True)
    Image.fromarray(np.zeros((540, 960, 3), np.uint8)).save(root / "00000.png")
    c = cli("data", "check", "set8", "--root", str(isolated / "data"))
    assert c.returncode != 0
    assert len(c.stdout.strip().splitlines()) >= 1 and "Set8" in c.stdout


def test_wrong_checkpoint(isolated, cli):
    bad = isolated / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    spec = isolated / "bad2.yaml"
    spec.write_text(SPEC.format(id="bad2", dataset="embedded-test", extra=f", checkpoint: {bad}"))
    r = cli("run", str(spec), "--profile", "tiny")
    _assert_one_line_error(r, "bad.pth", "missing keys", "unexpected keys")
    _no_results(isolated, "bad2")


def test_unknown_config_key_in_spec_and_train_config(isolated, cli):
    spec = isolated / "bad3.yaml"
    spec.write_text(SPEC.format(id="bad3", dataset="embedded-test", extra=", epochs: 3"))
    r = cli("run", str(spec), "--profile", "tiny")
    _assert_one_line_error(r, "bad3.yaml", "unknown key 'epochs'")
    cfg = isolated / "train.yaml"
    cfg.write_text("model: fastdvdnet\ntrain: {steps: 1, learning_rate: 0.1}\n")
    r = cli("train", "--config", str(cfg))
    _assert_one_line_error(r, "train.yaml", "unknown key 'learning_rate'")
    r = cli("run", "table1", "--profile", "smoke", "--set", "trian.steps=3")
    _assert_one_line_error(r, "trian")


def test_unknown_model_and_pipeline(isolated, cli):
    r = cli("run", "table99")
    _assert_one_line_error(r, "unknown pipeline 'table99'", "table1")


def test_unknown_notebook_parameter(isolated, cli):
    r = cli("notebook", "restoration", "--version-dir", str(isolated), "-p", "colour=red")
    _assert_one_line_error(r, "restoration.ipynb", "unknown notebook parameter 'colour'", "version_dir")


def test_missing_ffmpeg_for_the_codec_study(isolated, cli, monkeypatch):
    monkeypatch.setenv("WORKBENCH_FFMPEG", str(isolated / "no-ffmpeg-here"))
    r = cli("run", "fig2", "--profile", "smoke")
    _assert_one_line_error(r, "ffmpeg")
    _no_results(isolated, "fig2")


def test_corrupt_frame_and_mixed_sizes_in_set8(isolated, cli):
    root = isolated / "data" / "Set8"
    names = ["tractor", "touchdown", "park_joy", "sunflower", "hypersmooth", "motorbike", "rafting", "snowboard"]
    for n in names:
        (root / n).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.zeros((540, 960, 3), np.uint8)).save(root / n / f"{i:05d}.png")
    (root / "tractor" / "00001.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((270, 480, 3), np.uint8)).save(root / "rafting" / "00001.png")
    c = cli("data", "check", "set8", "--root", str(isolated / "data"), "--deep")
    assert c.returncode != 0
    assert "tractor/00001.png" in c.stdout and "rafting" in c.stdout
