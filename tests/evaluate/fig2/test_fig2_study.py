"""The codec_study cell end to end on tiny in-memory clips, the figure, and the missing-ffmpeg error."""

import json
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.config import from_mapping
from workbench.context import RunContext
from workbench.data.sequence import ArraySequence
from workbench.errors import ToolError
from workbench.evaluate.fig2 import Fig2Params
from workbench.evaluate.fig2 import study as study_mod
from workbench.pipeline.fig2 import FIG2_CELL

SMALL = {
    "codec": "both",
    "dataset": "tiny",
    "qps": [30, 40],
    "preset": "ultrafast",
    "keyint": 4,
    "lambdas": [0.002, 0.02],
    "n_channels": 8,
    "m_channels": 8,
    "train_steps": 6,
    "finetune_steps": 3,
    "train_batch": 2,
    "crop_size": 32,
    "train_dataset": "tiny-train",
}


def _ctx(tmp_path: Path) -> RunContext:
    return RunContext(
        spec_id="fig2",
        profile="test",
        cell_name="study",
        work_dir=tmp_path / "work",
        artifact_dir=tmp_path / "artifacts",
    )


@pytest.fixture
def tiny_data(monkeypatch, smooth_clip):  # type: ignore[no-untyped-def]
    seqs = {
        "tiny": [ArraySequence("a", smooth_clip(3, 64, 64, seed=3)), ArraySequence("b", smooth_clip(3, 64, 64, 4))],
        "tiny-train": [ArraySequence("t", smooth_clip(2, 64, 96, seed=5))],
    }
    monkeypatch.setattr(study_mod, "_open", lambda name, ctx, max_frames, max_sequences=None: seqs[name])
    return seqs


def test_study_rows_json_crops_and_figure(tmp_path: Path, tiny_data, ffmpeg_path: str) -> None:  # type: ignore[no-untyped-def]
    params = from_mapping(Fig2Params, SMALL)
    ctx = _ctx(tmp_path)
    rows = FIG2_CELL.run(params, ctx)
    df = pd.DataFrame(rows)
    assert {
        "method",
        "dataset",
        "setting",
        "metric",
        "value",
        "sequence",
        "reference",
        "rate_point",
        "command",
        "colour",
    } <= set(df.columns)
    assert set(df["method"]) == {"x265", "learned-hyperprior", "noisy-input"}
    # bpp of every x265 sequence row is exactly 8 × the kept .hevc size / (W·H·T)
    x_bpp = df[(df.method == "x265") & (df.metric == "bpp") & (df.level == "sequence")]
    for r in x_bpp.itertuples():
        f = ctx.work_dir / "x265" / "bitstreams" / f"{r.sequence}_sigma20_qp{r.rate_point.split('=')[1]}.hevc"
        assert r.value == 8 * f.stat().st_size / (64 * 64 * 3)
        assert "-x265-params" in r.command and f"qp={r.rate_point.split('=')[1]}:keyint=4" in r.command
        assert shlex.split(r.command) == json.loads(r.command_argv)  # verbatim, as a list and a string
        assert (r.preset, r.tune, r.keyint, r.pix_fmt, r.x265_mode) == ("ultrafast", "zerolatency", 4, "yuv420p", "qp")
    assert r.setting.startswith("sigma=20;qp=")
    learned = df[df.method == "learned-hyperprior"]
    assert set(learned.metric) >= {"bpp", "bpp_estimated", "bpp_actual", "rate_gap_pct", "psnr_db", "ssim", "psnr_y_db"}
    assert np.isfinite(learned[learned.metric == "rate_gap_pct"].value).all()
    gaps = df[df.metric == "psnr_gap_db_at_matched_bpp"]
    assert set(gaps.reference) <= {"clean", "noisy"}
    noisy = df[(df.method == "noisy-input") & (df.metric == "psnr_db") & (df.level == "dataset")].value.iloc[0]
    assert 20.0 < noisy < 24.0  # σ = 20 on a smooth clip, clipped to 8 bits
    art = ctx.artifact_dir
    for name in ("x265-sigma20.json", "learned-hyperprior-sigma20.json"):
        res = json.loads((art / name).read_text())
        assert {"name", "description", "results"} <= set(res) and len(res["results"]["bpp"]) == 2
        assert res["results"]["bpp"] == sorted(res["results"]["bpp"]) and "psnr-rgb" in res["results"]
    index = json.loads((art / "crops" / "crops.json").read_text())
    assert len(index["crops"]) == 2 + 4 and all((art / "crops" / c["file"]).is_file() for c in index["crops"])

    from workbench.report import fig2

    version = tmp_path / "version"
    (version / "artifacts").mkdir(parents=True)
    (art).rename(version / "artifacts" / "study")
    df.assign(table="fig2").to_csv(version / "measured.csv", index=False)
    paths = fig2.render(version)
    assert [p.name for p in paths] == ["fig2.pdf", "fig2.png", "fig2.csv"] and all(p.stat().st_size > 0 for p in paths)


def test_missing_ffmpeg_is_one_line_and_writes_nothing(tmp_path: Path, tiny_data, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WORKBENCH_FFMPEG", str(tmp_path / "nowhere" / "ffmpeg"))
    ctx = _ctx(tmp_path)
    with pytest.raises(ToolError) as err:
        FIG2_CELL.run(from_mapping(Fig2Params, SMALL), ctx)
    assert "WORKBENCH_FFMPEG" in str(err.value) and "\n" not in str(err.value)
    assert not ctx.work_dir.exists() and not ctx.artifact_dir.exists()


def test_schema_rejects_unknown_keys_and_bad_codec() -> None:
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match="qp"):
        from_mapping(Fig2Params, {"qp": [32]})
    with pytest.raises(ConfigError):
        from_mapping(Fig2Params, {"codec": "x264"})


def test_no_ffmpeg_anywhere_names_how_to_get_one(tmp_path: Path, tiny_data, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from workbench import ffmpeg as wb_ffmpeg

    def missing(prefer: str = "auto") -> str:
        raise ToolError("ffmpeg not found; install imageio-ffmpeg or set WORKBENCH_FFMPEG=/path/to/ffmpeg")

    monkeypatch.setattr(wb_ffmpeg, "ffmpeg_exe", missing)
    ctx = _ctx(tmp_path)
    with pytest.raises(ToolError, match="ffmpeg not found"):
        FIG2_CELL.run(from_mapping(Fig2Params, {**SMALL, "codec": "x265"}), ctx)
    assert not ctx.work_dir.exists() and not ctx.artifact_dir.exists()
    # the learned codec alone needs no ffmpeg
    rows = FIG2_CELL.run(from_mapping(Fig2Params, {**SMALL, "codec": "learned"}), ctx)
    assert {r["method"] for r in rows} == {"learned-hyperprior", "noisy-input"}
