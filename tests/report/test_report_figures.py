"""The older report figures (restoration tables, complexity, Fig. 2) as paper figures: each written as
``<stem>.pdf`` (vector) and a 300-dpi ``<stem>.png`` through :func:`workbench.report.figures.save_figure`,
from tiny hand-made version folders; the CSVs they write are kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from workbench.report import complexity, fig2, restoration


def _assert_paper_figure(paths: list[Path], stem: str) -> None:
    pdf, png = (p for p in paths if p.name in (f"{stem}.pdf", f"{stem}.png"))
    assert pdf.read_bytes().startswith(b"%PDF")
    with Image.open(png) as im:
        assert im.format == "PNG"
        assert im.info["dpi"] == pytest.approx((300, 300), abs=0.5)
        assert im.width > 300 and im.height > 100


def _comparison(rows: list[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([
        {"method": m, "dataset": d, "setting": s, "metric": "psnr_db", "value_measured": vm,
         "value_reported": vr, "difference": vm - vr, "result_kind": "pipeline check", "source": "test"}
        for m, d, s, vm, vr in rows
    ] + [{"method": "ncfl-uni", "dataset": "set8", "setting": "sigma=10", "metric": "ssim", "value_measured": 0.9,
          "value_reported": float("nan"), "difference": float("nan"), "result_kind": "pipeline check",
          "source": "test"}])


def _version(tmp_path: Path, comparison: pd.DataFrame) -> Path:
    vd = tmp_path / "v0001"
    vd.mkdir()
    comparison.to_csv(vd / "comparison.csv", index=False)
    comparison.rename(columns={"value_measured": "value"}).to_csv(vd / "measured.csv", index=False)
    (vd / "manifest.json").write_text(json.dumps({"result_kind": "pipeline check"}))
    return vd


def test_table1_small_multiples(tmp_path: Path) -> None:
    nan = float("nan")
    vd = _version(tmp_path, _comparison([
        (m, "set8", f"sigma={s}", vm, vr)
        for m, base in (("ncfl-uni", 30.0), ("fastdvdnet", 28.0), ("noisy-input", 20.0))
        for s, vm, vr in ((10, base, base + 6 if m != "noisy-input" else nan),
                          (50, base - 8, base - 2 if m != "noisy-input" else nan))
    ] + [("vnlnet", "set8", "sigma=10", nan, 37.1), ("vnlnet", "set8", "sigma=50", nan, 29.5)]))
    paths = restoration.render(vd, "table1")
    assert [p.name for p in paths] == ["table1.csv", "table1.pdf", "table1.png"]
    _assert_paper_figure(paths, "table1")
    table = pd.read_csv(paths[0])
    assert set(table["metric"]) == {"psnr_db", "ssim"} and "result_kind" in table.columns


def test_configuration_table_panels(tmp_path: Path) -> None:
    nan = float("nan")
    vd = _version(tmp_path, _comparison([
        ("ncfl-m1", "set8", "sigma=50", 17.3, 29.99), ("ncfl-m2", "set8", "sigma=50", 16.3, 30.2),
        ("ncfl-m1", "crvd", "raw", nan, 44.48), ("ncfl-m2", "crvd", "raw", nan, 44.56),
    ]))
    paths = restoration.render(vd, "table7")
    assert [p.name for p in paths] == ["table7.csv", "table7.pdf", "table7.png"]
    _assert_paper_figure(paths, "table7")
    assert len(pd.read_csv(paths[0])) == 5


def test_complexity_scatter(tmp_path: Path) -> None:
    measured = pd.DataFrame([
        {"table": "complexity", "method": m, "dataset": "set8", "setting": "960x540", "metric": "gflops_paper",
         "value": v} for m, v in (("fastdvdnet", 664.0), ("ncfl-uni", 768.0))])
    reported = pd.DataFrame([
        ("table1", "fastdvdnet", "set8", "960x540", "gflops", 665.0),
        ("table1", "ncfl-uni", "set8", "960x540", "gflops", 771.0),
        ("table1", "emvd-s", "set8", "960x540", "gflops", 5.0),
        ("table1", "fastdvdnet", "set8", "sigma=50", "psnr_db", 29.53),
        ("table1", "ncfl-uni", "set8", "sigma=50", "psnr_db", 30.45),
        ("table1", "emvd-s", "set8", "sigma=50", "psnr_db", 27.83),
    ], columns=["table", "method", "dataset", "setting", "metric", "value_reported"]).assign(source="test")
    vd = tmp_path / "v0001"
    vd.mkdir()
    measured.to_csv(vd / "measured.csv", index=False)
    reported.to_csv(vd / "reported.csv", index=False)
    (vd / "manifest.json").write_text(json.dumps({"result_kind": "pipeline check"}))
    paths = complexity.render(vd)
    assert [p.name for p in paths] == ["complexity_table.csv", "complexity_scatter.pdf", "complexity_scatter.png"]
    _assert_paper_figure(paths, "complexity_scatter")
    table = pd.read_csv(paths[0]).set_index(["method", "metric"])
    assert table.loc[("ncfl-uni", "gflops_paper"), "value_reported"] == pytest.approx(771.0)


def _fig2_version(tmp_path: Path) -> Path:
    vd = tmp_path / "v0001"
    crops = vd / "artifacts" / "study" / "crops"
    crops.mkdir(parents=True)
    rng = np.random.default_rng(0)
    entries = [{"file": "clean.png", "kind": "clean", "sigma": None, "method": "", "rate_point": "", "bpp": None,
                "psnr_db": None},
               {"file": "noisy-sigma20.png", "kind": "noisy", "sigma": 20.0, "method": "", "rate_point": "",
                "bpp": None, "psnr_db": None}]
    rows = [{"table": "fig2", "method": "noisy-input", "sigma": 20.0, "metric": "psnr_db", "rate_point": "",
             "reference": "clean", "level": "dataset", "value": 22.4}]
    curves = {"x265": [("qp=27", 3.2, 24.4, 23.2), ("qp=42", 0.15, 26.7, 21.2)],
              "learned-hyperprior": [("lambda=0.0009", 0.24, 21.6, 19.0), ("lambda=0.018", 0.55, 21.1, 18.7)]}
    for method, points in curves.items():
        for rate, bpp, to_clean, to_noisy in points:
            rows += [{"table": "fig2", "method": method, "sigma": 20.0, "metric": "bpp", "rate_point": rate,
                      "reference": "", "level": "dataset", "value": bpp}]
            rows += [{"table": "fig2", "method": method, "sigma": 20.0, "metric": "psnr_db", "rate_point": rate,
                      "reference": ref, "level": "dataset", "value": v}
                     for ref, v in (("clean", to_clean), ("noisy", to_noisy))]
            entries.append({"file": f"{method}-sigma20-{rate.replace('=', '')}.png", "kind": "codec", "sigma": 20.0,
                            "method": method, "rate_point": rate, "bpp": bpp, "psnr_db": to_clean})
    for e in entries:
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(crops / e["file"])
    (crops / "crops.json").write_text(json.dumps({"crops": entries}))
    pd.DataFrame(rows).to_csv(vd / "measured.csv", index=False)
    (vd / "manifest.json").write_text(json.dumps({"result_kind": "pipeline check"}))
    return vd


def test_fig2(tmp_path: Path) -> None:
    paths = fig2.render(_fig2_version(tmp_path))
    assert [p.name for p in paths] == ["fig2.pdf", "fig2.png", "fig2.csv"]
    _assert_paper_figure(paths, "fig2")
    table = pd.read_csv(paths[-1])
    assert set(table["method"]) == {"x265", "learned-hyperprior"} and set(table["reference"]) == {"clean", "noisy"}
