"""The complexity cell end to end (zoo model, runtime, meta check), derived claims, the report and the
memory benchmark."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.config import from_mapping
from workbench.context import RunContext
from workbench.evaluate.complexity import memory
from workbench.evaluate.complexity.claims import flops_ratio_rows
from workbench.evaluate.complexity.memory import measure_once
from workbench.pipeline.complexity import COMPLEXITY_CELL, ComplexityCell
from workbench.report.complexity import render


def test_cell_rows(tmp_path: Path) -> None:
    params = from_mapping(ComplexityCell, {
        "models": ["fastdvdnet"], "resolution": "64x48", "runtime": True, "runtime_resolution": "32x32",
        "repeats": 1, "runtime_warmup": 0, "meta_check_resolution": "32x32", "dehaze_model": "fastdvdnet",
        "dehaze_method": "fastdvdnet",
    }, where="test")
    ctx = RunContext(spec_id="complexity", profile="smoke", cell_name="c", work_dir=tmp_path, artifact_dir=tmp_path)
    rows = COMPLEXITY_CELL.run(params, ctx)
    df = pd.DataFrame(rows)
    fd = df[(df["method"] == "fastdvdnet") & (df["dataset"] == "set8")].set_index("metric")
    expected = {"gmacs_paper", "gflops_paper", "gmacs_full", "gflops_full", "params_m", "ms_per_frame",
                "runtime_ratio_fastdvdnet", "achieved_gflops_per_s", "peak_gemm_gflops_per_s", "fraction_of_peak"}
    assert expected == set(fd.index)
    achieved, peak = fd.loc["achieved_gflops_per_s", "value"], fd.loc["peak_gemm_gflops_per_s", "value"]
    assert achieved > 0 and peak > 0 and fd.loc["fraction_of_peak", "value"] == pytest.approx(achieved / peak)
    # 332.07 GMAC at 960x540 scales with pixels (FastDVDNet pads to multiples of 4 only)
    assert fd.loc["gmacs_paper", "value"] == pytest.approx(332.07 * 64 * 48 / (960 * 540), rel=1e-3)
    assert fd.loc["runtime_ratio_fastdvdnet", "value"] == 1.0
    assert fd.loc["ms_per_frame", "runtime_resolution"] == "32x32"
    assert fd.loc["gmacs_paper", "meta_check"] == "equal"
    assert fd.loc["params_m", "value"] == pytest.approx(2.479096)
    assert df[df["dataset"] == "revide"]["method"].tolist() == ["fastdvdnet"]


def test_cell_fvcore_rows(tmp_path: Path) -> None:
    params = from_mapping(ComplexityCell, {"models": ["fastdvdnet"], "resolution": "64x48",
                                           "fvcore_resolution": "32x32"}, where="test")
    ctx = RunContext(spec_id="complexity", profile="smoke", cell_name="c", work_dir=tmp_path, artifact_dir=tmp_path)
    df = pd.DataFrame(COMPLEXITY_CELL.run(params, ctx)).set_index("metric")
    assert df.loc["gmacs_fvcore", "counted_resolution"] == "32x32"
    assert df.loc["gmacs_fvcore", "value"] == pytest.approx(332.07 * 32 * 32 / (960 * 540), rel=0.01)
    assert df.loc["fvcore_ratio_paper", "value"] == pytest.approx(1.0, abs=0.01)
    assert "aten::pixel_shuffle" in df.loc["gmacs_fvcore", "fvcore_unsupported_ops"]
    assert "fvcore" in ctx.notes["conventions"]


def test_fvcore_resolution_is_left_out_of_the_cell_hash_at_its_default() -> None:
    from workbench.config import to_mapping

    cell = from_mapping(ComplexityCell, {"models": ["fastdvdnet"]}, where="test")
    assert "fvcore_resolution" not in to_mapping(cell)
    cell = from_mapping(ComplexityCell, {"models": ["fastdvdnet"], "fvcore_resolution": "8x8"}, where="test")
    assert to_mapping(cell)["fvcore_resolution"] == "8x8"


def test_flops_ratio_claims() -> None:
    rows = [{"method": m, "dataset": "set8", "setting": "960x540", "metric": metric, "value": v}
            for m, v in (("ncfl-uni", 10.0), ("basicvsrpp-uni", 40.0), ("ncfl-bi", 30.0))
            for metric in ("gflops_paper", "gflops_full")]
    claims = flops_ratio_rows(rows)
    assert [(c["method"], c["metric"], c["value"]) for c in claims] == [
        ("ncfl-uni", "flops_ratio_vs_basicvsrpp", 0.25), ("ncfl-uni", "flops_ratio_vs_basicvsrpp_full", 0.25)]


def test_report_render(tmp_path: Path) -> None:
    measured = pd.DataFrame([
        {"table": "complexity", "method": "fastdvdnet", "dataset": "set8", "setting": "960x540",
         "metric": "gflops_paper", "value": 660.0},
        {"table": "complexity", "method": "ncfl-uni", "dataset": "set8", "setting": "960x540",
         "metric": "gflops_paper", "value": 800.0},
        {"table": "complexity", "method": "ncfl-uni", "dataset": "set8", "setting": "960x540",
         "metric": "runtime_ratio_fastdvdnet", "value": 1.5},
        {"table": "complexity", "method": "ncfl-uni", "dataset": "revide", "setting": "default",
         "metric": "params_m", "value": 16.5},
    ])
    reported = pd.DataFrame([
        ("table1", "fastdvdnet", "set8", "960x540", "gflops", 600.0),
        ("table1", "ncfl-uni", "set8", "960x540", "gflops", 800.0),
        ("table1", "ncfl-uni", "set8", "sigma=50", "psnr_db", 30.0),
        ("table1", "fastdvdnet", "set8", "sigma=50", "psnr_db", 29.0),
        ("table2", "fastdvdnet", "crvd", "P100-1080p", "ms_per_frame", 100.0),
        ("table2", "ncfl-uni", "crvd", "P100-1080p", "ms_per_frame", 200.0),
        ("table4", "ncfl-uni", "revide", "default", "params_m", 15.0),
        ("table4", "cg-idn", "revide", "default", "params_m", 22.0),
    ], columns=["table", "method", "dataset", "setting", "metric", "value_reported"]).assign(source="test")
    measured.to_csv(tmp_path / "measured.csv", index=False)
    reported.to_csv(tmp_path / "reported.csv", index=False)
    paths = render(tmp_path)
    assert [p.name for p in paths] == ["complexity_table.csv", "complexity_scatter.pdf", "complexity_scatter.png"]
    table = pd.read_csv(paths[0]).set_index(["method", "metric"])
    assert table.loc[("fastdvdnet", "gflops_paper"), "ratio"] == pytest.approx(1.1)
    assert table.loc[("ncfl-uni", "runtime_ratio_fastdvdnet"), "value_reported"] == pytest.approx(2.0)
    assert table.loc[("ncfl-uni", "params_ratio_vs_cg_idn"), "value_measured"] == pytest.approx(0.75)
    assert table.loc[("ncfl-uni", "params_ratio_vs_cg_idn"), "value_reported"] == pytest.approx(15 / 22)
    assert paths[1].stat().st_size > 1000


def test_memory_measurement_subprocess() -> None:
    rec = measure_once("baselines.fastdvdnet:FastDVDNet", frames=3, resolution=(32, 32))
    assert rec["frames"] == 3 and rec["temporal_mode"] == "window"
    assert rec["peak_mb"] >= rec["baseline_mb"] > 50  # torch alone is resident


def test_memory_flatness(monkeypatch: pytest.MonkeyPatch) -> None:
    growth = {"flat-model": 0.0, "growing-model": 40.0}

    def fake(model_id: str, *, frames: int, **kwargs: object) -> dict[str, object]:
        delta = 100.0 + growth[model_id] * frames
        return {"method": model_id, "frames": frames, "baseline_mb": 500.0, "peak_mb": 500.0 + delta, "delta_mb": delta}

    monkeypatch.setattr(memory, "measure_once", fake)
    df = memory.benchmark_memory(["flat-model", "growing-model"], lengths=(8, 32))
    assert df.groupby("method")["flat"].first().to_dict() == {"flat-model": True, "growing-model": False}
