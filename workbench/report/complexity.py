"""Complexity report (pipeline ``complexity``): measured vs reported cost, and a Fig. 1(d)-style scatter.

``render(version_dir)`` reads ``measured.csv`` (rows of the ``complexity`` cells, see
:mod:`workbench.evaluate.complexity.audit`) and, when present, ``reported.csv`` (the paper's rows:
``table, method, dataset, setting, metric, value_reported, source``), and writes into
``version_dir/figures/``:

- ``complexity_table.csv``: one row per measured (method, dataset, setting, metric) with the reported
  value it compares with, ``ratio = measured / reported`` and where the reported value comes from. The
  paper's "GFLOPs" are compared with both ``gflops_paper`` (its convention) and ``gflops_full``;
  runtime is compared as the ratio to FastDVDNet (the paper's Table 2 runtimes are P100, 1080p raw, so
  only ratios travel), and derived claims (FLOPs ratio NCFL/BasicVSR++, parameters vs CG-IDN) with the
  same ratio formed from reported numbers;
- ``complexity_scatter.pdf`` and 300-dpi ``complexity_scatter.png`` (column width): PSNR (Set8, σ = 50;
  reported, or measured where the version has it) against GFLOPs per output frame (log scale), reported
  GFLOPs hollow, measured (paper convention) filled, each point named, the legend above the axes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from workbench import atomic  # noqa: E402
from workbench.evaluate.complexity.claims import params_ratio_rows  # noqa: E402
from workbench.report.figures import COLUMN_WIDTH_IN, paper_style, save_figure  # noqa: E402

#: measured metric → the reported metric it is compared with
_COMPARED = {"gflops_paper": "gflops", "gflops_full": "gflops", "params_m": "params_m"}
_KEYS = ["method", "dataset", "setting", "metric"]
_EMPTY_REPORTED = pd.DataFrame(columns=["table", *_KEYS, "value_reported", "source"])


def _reported(version_dir: Path) -> pd.DataFrame:
    path = version_dir / "reported.csv"
    if not path.is_file():
        return _EMPTY_REPORTED.copy()
    rep = pd.read_csv(path, dtype={"setting": str})
    rep["value_reported"] = pd.to_numeric(rep["value_reported"], errors="coerce")
    return rep


def _direct(rep: pd.DataFrame, method: str, dataset: str, setting: str, metric: str) -> tuple[float, str]:
    hit = rep[(rep["method"] == method) & (rep["dataset"] == dataset) & (rep["setting"] == setting)
              & (rep["metric"] == metric)]
    if hit.empty:
        return float("nan"), ""
    return float(hit["value_reported"].iloc[0]), "; ".join(sorted(set(hit["source"].astype(str))))


def _first(rep: pd.DataFrame, method: str, metric: str) -> float:
    hit = rep[(rep["method"] == method) & (rep["metric"] == metric)]
    return float(hit["value_reported"].iloc[0]) if len(hit) else float("nan")


def _reported_for(row: pd.Series, rep: pd.DataFrame) -> tuple[float, str]:
    metric = str(row["metric"])
    if metric in _COMPARED:
        return _direct(rep, str(row["method"]), str(row["dataset"]), str(row["setting"]), _COMPARED[metric])
    if metric.startswith("runtime_ratio_"):
        ref = metric.removeprefix("runtime_ratio_")
        value = _first(rep, str(row["method"]), "ms_per_frame") / _first(rep, ref, "ms_per_frame")
        return value, f"derived: reported ms_per_frame ratio to {ref} (Table 2, P100 1080p raw)"
    if metric.startswith("flops_ratio_vs_"):
        ref = str(row.get("reference", ""))
        value = _first(rep, str(row["method"]), "gflops") / _first(rep, ref, "gflops")
        return value, f"derived: reported gflops ratio to {ref}"
    if metric.startswith("params_ratio_vs_"):
        ref = str(row.get("reference", "")).removesuffix(" (reported)")
        value = _first(rep, str(row["method"]), "params_m") / _first(rep, ref, "params_m")
        return value, f"derived: reported params_m ratio to {ref}"
    return float("nan"), ""


def complexity_table(measured: pd.DataFrame, reported: pd.DataFrame) -> pd.DataFrame:
    """Measured complexity rows with their reported counterpart and ratio (see module docstring)."""
    m = measured.copy()
    if "metric" not in m.columns:
        return pd.DataFrame()
    extra = params_ratio_rows(m, reported)
    if len(extra):
        m = pd.concat([m, extra], ignore_index=True)
    m = m[m["metric"].astype(str).str.match(r"(gmacs|gflops|params|ms_per|runtime_ratio|flops_ratio|params_ratio)")]
    values = [_reported_for(r, reported) for _, r in m.iterrows()]
    m = m.assign(value_measured=pd.to_numeric(m["value"]), value_reported=[v for v, _ in values],
                 reported_source=[s for _, s in values])
    m["ratio"] = m["value_measured"] / m["value_reported"]
    cols = [*_KEYS, "value_measured", "value_reported", "ratio", "reported_source", "convention",
            "counted_resolution", "runtime_resolution", "device", "uncounted_ops", "paper_uncovered_modules",
            "result_kind"]
    return m[[c for c in cols if c in m.columns]].reset_index(drop=True)


def _psnr_points(measured: pd.DataFrame, reported: pd.DataFrame) -> dict[str, tuple[float, str]]:
    """PSNR at σ = 50 on Set8 per method: measured where present, else reported."""
    out: dict[str, tuple[float, str]] = {}
    for df, col, label in ((reported, "value_reported", "reported"), (measured, "value", "measured")):
        if df.empty or "metric" not in df.columns:
            continue
        sel = df[(df["metric"] == "psnr_db") & (df["dataset"] == "set8") & (df["setting"] == "sigma=50")]
        if "level" in sel.columns:
            sel = sel[sel["level"].isna() | (sel["level"] == "dataset")]
        for method, grp in sel.groupby("method"):
            out[str(method)] = (float(pd.to_numeric(grp[col]).iloc[0]), label)
    return out


def scatter(table: pd.DataFrame, measured: pd.DataFrame, reported: pd.DataFrame, stem: Path) -> list[Path]:
    """Write the scatter as ``<stem>.pdf`` and 300-dpi ``<stem>.png``; return both paths."""
    psnr = _psnr_points(measured, reported)
    with paper_style():
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.6))
        cmap = plt.get_cmap("tab20")
        kinds = set()
        for i, (method, (y, kind)) in enumerate(sorted(psnr.items())):
            rows = table[(table["method"] == method) & (table["metric"] == "gflops_paper")]
            rep_gf = _first(reported, method, "gflops") if not reported.empty else float("nan")
            color = cmap(i % 20)
            xs = []
            if len(rows):
                xs.append(float(rows["value_measured"].iloc[0]))
                ax.plot(xs[-1:], [y], "o", color=color)
            if rep_gf == rep_gf and rep_gf > 0:
                xs.append(rep_gf)
                ax.plot([rep_gf], [y], "o", mfc="none", color=color)
            if xs:
                kinds.add(kind)
                ax.plot([min(xs), max(xs)], [y, y], "-", color=color, lw=0.8, alpha=0.6)
                ax.annotate(method, (max(xs), y), textcoords="offset points", xytext=(3, 2), fontsize=5)
        ax.plot([], [], "o", color="0.3", label="GFLOPs measured (paper convention)")
        ax.plot([], [], "o", mfc="none", color="0.3", label="GFLOPs reported")
        ax.set_xscale("log")
        ax.set_xlabel("GFLOPs per 960×540 output frame (2 × MACs; log scale)")
        ax.set_ylabel(f"PSNR (dB), Set8, σ = 50 ({' / '.join(sorted(kinds)) or 'none'})")
        ax.set_title("Performance vs complexity (Fig. 1(d) style)")
        ax.grid(alpha=0.3)
        ax.margins(x=0.15)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=2, frameon=False)
        fig.tight_layout()
        return save_figure(fig, stem)


#: why a measured count may differ from the paper's (from docs/complexity.md; words, no numbers)
GAP_NOTES = {
    "basicvsr-uni": "not derivable from public code: the paper's denoising variant differs in undocumented details "
                    "(implies ~+119 GMAC per propagation branch; docs/complexity.md §2); "
                    "treat the paper value as reported",
    "basicvsr-bi": "not derivable from public code: same per-branch residual as the uni variant "
                   "(docs/complexity.md §2)",
    "basicvsrpp-bi": "not derivable from public code: ~+119 GMAC per branch over the full-resolution 4-branch "
                     "configuration, while the uni variant matches (docs/complexity.md §2)",
    "edvr": "EDVR-L deblur configuration, counted at 960x544 (hr_in needs multiples of 16)",
}


def add_notes(table: pd.DataFrame) -> pd.DataFrame:
    """A ``note`` column explaining known gaps between measured and reported FLOPs."""
    out = table.copy()
    flops = out["metric"].astype(str).str.startswith("gflops")
    out["note"] = [GAP_NOTES.get(str(m), "") if f else "" for m, f in zip(out["method"], flops)]
    return out


def render(version_dir: Path) -> list[Path]:
    version_dir = Path(version_dir)
    fig_dir = version_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    measured = pd.read_csv(version_dir / "measured.csv", dtype={"setting": str})
    reported = _reported(version_dir)
    table = add_notes(complexity_table(measured, reported))
    csv_path = fig_dir / "complexity_table.csv"
    atomic.write_text(csv_path, table.to_csv(index=False))
    return [csv_path, *scatter(table, measured, reported, fig_dir / "complexity_scatter")]
