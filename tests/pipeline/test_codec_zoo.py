"""Fig. 2's learned codec in the zoo (workbench/pipeline/codec_zoo.py): trained once and filed, then served;
a stale or unloadable entry retrains loudly; --retrain leaves the zoo alone; trained codecs are rounded to
the zoo's storage before they code, so a run that trains measures what the zoo then serves."""

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from workbench.config import from_mapping
from workbench.context import RunContext
from workbench.data.sequence import ArraySequence
from workbench.evaluate.fig2 import Fig2Params
from workbench.evaluate.fig2 import study as study_mod
from workbench.pipeline import codec_zoo
from workbench.pipeline.fig2 import FIG2_CELL

SMALL = {
    "codec": "learned",
    "dataset": "tiny",
    "lambdas": [0.002, 0.02],
    "n_channels": 8,
    "m_channels": 8,
    "train_steps": 6,
    "finetune_steps": 3,
    "train_batch": 2,
    "crop_size": 32,
    "train_dataset": "tiny-train",
}
TRAIN_SUMS = {"tiny-train/t/0000.png": "ab" * 32, "tiny-train/t/0001.png": "cd" * 32}


@pytest.fixture
def tiny_data(monkeypatch, smooth_clip, one_torch_thread):  # type: ignore[no-untyped-def]
    seqs = {
        "tiny": [ArraySequence("a", smooth_clip(3, 64, 64, seed=3))],
        "tiny-train": [ArraySequence("t", smooth_clip(2, 64, 96, seed=5))],
    }
    monkeypatch.setattr(study_mod, "_open", lambda name, ctx, max_frames, max_sequences=None: seqs[name])
    return seqs


def _ctx(tmp_path: Path, run: str, *, zoo: Path | None, retrain: bool = False) -> RunContext:
    ctx = RunContext(spec_id="fig2", profile="mini", cell_name="codec-study", work_dir=tmp_path / run / "work",
                     artifact_dir=tmp_path / run / "artifacts", input_checksums={"tiny/a/0000.png": "ef" * 32,
                                                                               **TRAIN_SUMS},
                     zoo_dir=zoo, retrain=retrain)
    ctx.work_dir.mkdir(parents=True)
    ctx.artifact_dir.mkdir(parents=True)
    return ctx


def _learned(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    return df[df.method == "learned-hyperprior"].sort_values(["sequence", "rate_point", "metric", "reference"])


def _no_training(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise AssertionError("trained although the zoo holds the codec")


def _entry(zoo: Path) -> Path:
    (folder,) = (zoo / codec_zoo.CODECS).iterdir()
    return folder


def test_trained_once_filed_then_served_with_identical_rows(tmp_path: Path, tiny_data, monkeypatch,
                                                             capsys) -> None:  # type: ignore[no-untyped-def]
    zoo = tmp_path / "zoo"
    params = from_mapping(Fig2Params, SMALL)
    first = FIG2_CELL.run(params, _ctx(tmp_path, "one", zoo=zoo))
    assert "ZOO WARNING" in capsys.readouterr().err
    folder = _entry(zoo)
    assert folder.name == codec_zoo.identity(params, TRAIN_SUMS)[0]
    assert sorted(p.name for p in folder.iterdir()) == ["lambda0.002.pt", "lambda0.02.pt", "loss.csv",
                                                        "manifest.json"]
    m = json.loads((folder / "manifest.json").read_text())
    for key in ("config_hash", "config", "code_commit", "train_data_sha256", "steps", "wall_s", "device", "torch",
                "threads", "storage", "rate_points", "train_inputs_file"):
        assert m.get(key) not in (None, "", {}), key
    assert m["steps"] == 6 + 3 and set(m["rate_points"]) == {"0.002", "0.02"}
    assert json.loads((zoo / m["train_inputs_file"]).read_text()) == TRAIN_SUMS
    with (folder / "loss.csv").open() as f:
        log = list(csv.DictReader(f))
    assert [r["lambda"] for r in log] == ["0.02"] * 6 + ["0.002"] * 3  # largest λ first, then its fine-tunes
    # a second run (fresh work folder) loads the entry and trains nothing; every learned number is the same
    monkeypatch.setattr(study_mod, "train_models", _no_training)
    second = FIG2_CELL.run(params, _ctx(tmp_path, "two", zoo=zoo))
    assert "ZOO WARNING" not in capsys.readouterr().err
    a, b = _learned(first), _learned(second)
    assert len(a) > 0 and a["value"].tolist() == b["value"].tolist()


def test_a_trained_codec_is_rounded_to_the_zoo_storage_before_it_codes(tmp_path: Path, tiny_data) -> None:  # type: ignore[no-untyped-def]
    params = from_mapping(Fig2Params, SMALL)
    for retrain in (False, True):
        models, _ = codec_zoo.trainer(params, _ctx(tmp_path, f"r{retrain}", zoo=tmp_path / "zoo", retrain=retrain))
        weight = models[0.02].g_a[2].weight
        assert weight.numel() >= 1024 and torch.equal(weight, weight.half().float())


def test_a_stale_entry_retrains_loudly_and_is_replaced(tmp_path: Path, tiny_data, capsys) -> None:  # type: ignore[no-untyped-def]
    zoo = tmp_path / "zoo"
    FIG2_CELL.run(from_mapping(Fig2Params, SMALL), _ctx(tmp_path, "one", zoo=zoo))
    before = json.loads((_entry(zoo) / "manifest.json").read_text())["config_hash"]
    capsys.readouterr()
    longer = from_mapping(Fig2Params, {**SMALL, "train_steps": 7})
    FIG2_CELL.run(longer, _ctx(tmp_path, "two", zoo=zoo))
    assert "no longer matches" in capsys.readouterr().err
    after = json.loads((_entry(zoo) / "manifest.json").read_text())
    assert after["config_hash"] != before and after["steps"] == 7 + 3


def test_unloadable_weights_retrain_loudly(tmp_path: Path, tiny_data, capsys) -> None:  # type: ignore[no-untyped-def]
    zoo = tmp_path / "zoo"
    params = from_mapping(Fig2Params, SMALL)
    FIG2_CELL.run(params, _ctx(tmp_path, "one", zoo=zoo))
    torch.save({"g_a.0.weight": torch.zeros(1)}, _entry(zoo) / "lambda0.02.pt")
    capsys.readouterr()
    FIG2_CELL.run(params, _ctx(tmp_path, "two", zoo=zoo))
    assert "retraining the learned codec" in capsys.readouterr().err
    codec_zoo.trainer(params, _ctx(tmp_path, "three", zoo=zoo))  # filed again: it loads now


def test_retrain_trains_and_leaves_the_zoo_untouched(tmp_path: Path, tiny_data, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    zoo = tmp_path / "zoo"
    params = from_mapping(Fig2Params, SMALL)
    FIG2_CELL.run(params, _ctx(tmp_path, "one", zoo=zoo))
    files = {p: p.read_bytes() for p in _entry(zoo).iterdir()}
    calls = []
    real = study_mod.train_models
    monkeypatch.setattr(study_mod, "train_models", lambda *a, **k: calls.append(1) or real(*a, **k))
    FIG2_CELL.run(params, _ctx(tmp_path, "two", zoo=zoo, retrain=True))
    assert calls == [1]
    assert {p: p.read_bytes() for p in _entry(zoo).iterdir()} == files


def test_without_a_zoo_the_codec_trains_in_the_run_unrounded(tmp_path: Path, tiny_data) -> None:  # type: ignore[no-untyped-def]
    """The smoke profile (no zoo) keeps training in its run, and nothing is filed anywhere."""
    ctx = _ctx(tmp_path, "one", zoo=None)
    FIG2_CELL.run(from_mapping(Fig2Params, SMALL), ctx)
    assert ctx.notes["learned_training"]["lambda=0.02"]["init"] == "scratch"
    assert not (tmp_path / "zoo").exists()
