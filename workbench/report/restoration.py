"""Tables and figures for the restoration tables (1, 5, 6, 7, 8), from a results version only.

``render(version_dir, table_id)`` reads ``measured.csv`` and ``comparison.csv`` of the version and
writes into ``version_dir/figures/``:

- ``<table>.csv``: one row per (method, dataset, setting, metric) with the measured value, the reported
  value, their difference, and ``result_kind`` ("pipeline check" for smoke runs, which are never a
  reproduction of the paper's numbers);
- ``<table>.pdf`` and 300-dpi ``<table>.png`` (:func:`workbench.report.figures.save_figure`): Table 1 →
  small multiples, one panel per method, PSNR against σ (measured solid, reported dashed, the noisy input
  dotted); other tables → one panel per (dataset, setting), measured and reported PSNR per method as dots.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from workbench import atomic  # noqa: E402
from workbench.report.figures import COLUMN_WIDTH_IN, TEXT_WIDTH_IN, paper_style, save_figure  # noqa: E402

NOISY = "noisy-input"


def _sigma(setting: str) -> float:
    return float(str(setting).split("=")[1]) if str(setting).startswith("sigma=") else float("nan")


def comparison_table(version_dir: Path) -> pd.DataFrame:
    comp = pd.read_csv(version_dir / "comparison.csv", dtype={"setting": str})
    cols = ["method", "dataset", "dataset_measured", "setting", "metric", "value_measured", "value_reported",
            "difference", "result_kind", "source"]
    return comp[[c for c in cols if c in comp.columns]]


def _table1(psnr: pd.DataFrame, table_id: str, kind: str) -> Figure:
    """Small multiples: one panel per method, PSNR against σ, measured solid and reported dashed; the noisy
    input (when measured) as a grey dotted reference in every panel."""
    psnr = psnr.assign(sigma=psnr["setting"].map(_sigma))
    noisy = psnr[psnr["method"] == NOISY].dropna(subset=["value_measured"]).sort_values("sigma")
    groups = [(m, g.sort_values("sigma")) for m, g in psnr[psnr["method"] != NOISY].groupby("method")]
    n = max(1, len(groups))
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    width = TEXT_WIDTH_IN if ncols > 1 else COLUMN_WIDTH_IN
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 1.25 * nrows + 0.5), sharex=True, sharey=True,
                             squeeze=False)
    for ax, (method, grp) in zip(axes.flat, groups):
        m = grp.dropna(subset=["value_measured"])
        r = grp.dropna(subset=["value_reported"])
        if len(noisy):
            ax.plot(noisy["sigma"], noisy["value_measured"], ":", color="0.5", label="noisy input (measured)")
        if len(r):
            ax.plot(r["sigma"], r["value_reported"], "x--", color="C1", label="reported (paper)")
        if len(m):
            ax.plot(m["sigma"], m["value_measured"], "o-", color="C0", label=f"measured ({kind})")
        else:
            ax.text(0.5, 0.05, "not measured", transform=ax.transAxes, ha="center", va="bottom", color="0.4")
        ax.set_title(str(method))
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(groups):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("noise σ (0–255)")
        ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("PSNR (dB)")
    fig.suptitle(f"{_name(table_id)}: measured vs reported PSNR on {_datasets(psnr)}")
    fig.tight_layout()
    _legend(fig, axes)
    return fig


def _configurations(psnr: pd.DataFrame, table_id: str, kind: str) -> Figure:
    """One panel per (dataset, setting): measured and reported PSNR per method as dots (no zero bars for
    missing values; each panel its own PSNR range, since datasets differ by tens of dB)."""
    panels = list(psnr.groupby(["dataset", "setting"], sort=True))
    n = max(1, len(panels))
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    methods_max = max((g["method"].nunique() for _, g in panels), default=1)
    width = TEXT_WIDTH_IN if ncols > 1 else COLUMN_WIDTH_IN
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, nrows * (0.3 + 0.17 * methods_max) + 0.6),
                             squeeze=False)
    for ax, ((dataset, setting), grp) in zip(axes.flat, panels):
        grp = grp.sort_values("method")
        y = list(range(len(grp)))
        ax.plot(grp["value_reported"], y, "x", color="C1", label="reported (paper)")
        ax.plot(grp["value_measured"], y, "o", color="C0", label=f"measured ({kind})")
        ax.set_yticks(y, list(grp["method"]))
        ax.set_ylim(len(grp) - 0.5, -0.5)
        vals = pd.concat([grp["value_measured"], grp["value_reported"]]).dropna()
        if len(vals):
            pad = max(0.5, 0.08 * float(vals.max() - vals.min()))
            ax.set_xlim(float(vals.min()) - pad, float(vals.max()) + pad)
        ax.set_xlabel("PSNR (dB)")
        ax.set_title(f"{dataset}, {setting}")
        ax.grid(alpha=0.3, axis="x")
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{_name(table_id)}: measured vs reported PSNR")
    fig.tight_layout()
    _legend(fig, axes)
    return fig


def _name(table_id: str) -> str:
    return f"Table {table_id.removeprefix('table')}" if table_id.startswith("table") else table_id


def _datasets(psnr: pd.DataFrame) -> str:
    return ", ".join(sorted(psnr["dataset"].dropna().astype(str).unique())) or "no dataset"


def _legend(fig: Figure, axes: Any) -> None:
    """One legend for all panels, above them (outside the data)."""
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center", bbox_to_anchor=(0.5, 1.0),
                   ncol=len(handles), frameon=False)


def render(version_dir: Path, table_id: str) -> list[Path]:
    """Write ``figures/<table>.csv``, ``<table>.pdf`` and 300-dpi ``<table>.png``; return the three paths."""
    version_dir = Path(version_dir)
    fig_dir = version_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    table = comparison_table(version_dir)
    csv_path = fig_dir / f"{table_id}.csv"
    atomic.write_text(csv_path, table.to_csv(index=False))
    psnr = table[table["metric"] == "psnr_db"].copy()
    kind = next((k for k in psnr.get("result_kind", pd.Series(dtype=str)).dropna() if k), "measured")
    with paper_style():
        fig = _table1(psnr, table_id, kind) if table_id == "table1" else _configurations(psnr, table_id, kind)
        return [csv_path, *save_figure(fig, fig_dir / table_id)]
