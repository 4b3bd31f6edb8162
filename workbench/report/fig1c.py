"""Fig. 1(c): t-SNE of temporal features before/after the compression module, and the numbers behind it.

``render(version_dir)`` reads the ``fig1c`` rows of ``measured.csv`` and each cell's ``artifacts/<cell>/
tsne.csv`` and writes into ``version_dir/figures/``:

- ``fig1c.pdf``/``.png``: small multiples, one row per model, columns ĉ_t (before) and c~_t (after): the
  clean run's features beside the noisy realisations' (perplexity and seed in the title);
- ``fig1c_numbers.pdf``/``.png``: distance to clean, spread between realisations (both over the clean
  spread) and quantized-symbol agreement, per model;
- ``fig1c.csv``: one row per model with those numbers (the companion table).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workbench.report.analysis_data import artifact, cells, measured, smoke_note
from workbench.report.figures import COLUMN_WIDTH_IN, TEXT_WIDTH_IN, paper_style, save_figure

STAGE_TITLES = {"before": "before compression ($\\hat{c}_t$)", "after": "after compression ($\\tilde{c}_t$)"}
NUMBERS = [("before", "distance_to_clean"), ("after", "distance_to_clean"), ("before", "realisation_spread"),
           ("after", "realisation_spread"), ("before", "clean_spread"), ("after", "clean_spread"),
           ("latent", "symbol_agreement"), ("latent", "symbol_agreement_nonzero"),
           ("latent", "symbol_agreement_clean_grid"), ("latent", "clean_zero_share")]


def numbers_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per model: the companion numbers (NaN where a model has no quantizer)."""
    out = []
    for cell, label in cells(df):
        sel = df[df["cell"] == cell]
        row: dict[str, object] = {"cell": cell, "label": label, "sequence": sel["sequence"].iloc[0],
                                  "setting": sel["setting"].iloc[0]}
        for stage, metric in NUMBERS:
            v = sel[(sel["stage"] == stage) & (sel["metric"] == metric)]["value"]
            row[metric if stage == "latent" else f"{metric}_{stage}"] = float(v.iloc[0]) if len(v) else np.nan
        out.append(row)
    return pd.DataFrame(out)


def _tsne_figure(version_dir: Path, df: pd.DataFrame, note: str) -> list[Path]:
    models = cells(df)
    fig, axes = plt.subplots(len(models), 2, figsize=(COLUMN_WIDTH_IN, 1.45 * len(models) + 0.5), squeeze=False)
    params = ""
    for i, (cell, label) in enumerate(models):
        tsne = pd.read_csv(artifact(version_dir, cell, "tsne.csv"))
        params = f"perplexity {tsne['perplexity'].iloc[0]:g}, seed {tsne['tsne_seed'].iloc[0]}"
        for j, stage in enumerate(("before", "after")):
            ax, sel = axes[i, j], tsne[tsne["stage"] == stage]
            noisy, clean = sel[sel["source"] != "clean"], sel[sel["source"] == "clean"]
            ax.scatter(noisy["tsne_x"], noisy["tsne_y"], s=2, c="C1", alpha=0.5, linewidths=0, label="noisy input")
            ax.scatter(clean["tsne_x"], clean["tsne_y"], s=2, c="k", linewidths=0, label="clean input")
            if bool(sel["identical_points"].iloc[0]):
                ax.text(0.5, 0.5, "all features identical\n(no layout)", ha="center", va="center",
                        transform=ax.transAxes, fontsize=6)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label}\n{STAGE_TITLES[stage]}" if i == 0 else label, fontsize=6)
            if j == 0:
                ax.set_ylabel("t-SNE 2")
            if i == len(models) - 1:
                ax.set_xlabel("t-SNE 1")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, markerscale=3, frameon=False,
               bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(f"Fig. 1(c) t-SNE ({params}){note}", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return save_figure(fig, version_dir / "figures" / "fig1c")


def _why_missing(row: pd.Series, col: str) -> str:
    if col.startswith("symbol_agreement"):
        return "no quantizer" if not np.isfinite(row["symbol_agreement"]) else "every clean symbol is 0"
    stage = col.rsplit("_", 1)[-1]
    return "clean features constant (no scale)" if row.get(f"clean_spread_{stage}", 1.0) == 0 else "n/a"


def _bars(ax: plt.Axes, table: pd.DataFrame, cols: list[tuple[str, str]], xlabel: str) -> None:
    y = np.arange(len(table))
    h = 0.8 / len(cols)
    for k, (col, name) in enumerate(cols):
        vals = table[col].to_numpy(dtype=float)
        ax.barh(y + (k - (len(cols) - 1) / 2) * h, np.nan_to_num(vals), height=h, label=name, color=f"C{k}")
        for yi, v, (_, row) in zip(y, vals, table.iterrows(), strict=True):
            if not np.isfinite(v):
                ax.text(0.02, yi + (k - (len(cols) - 1) / 2) * h, _why_missing(row, col), va="center", fontsize=5,
                        transform=ax.get_yaxis_transform())
    ax.set_yticks(y)
    ax.set_yticklabels(table["label"])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), frameon=False, ncol=1)


def _numbers_figure(version_dir: Path, table: pd.DataFrame, note: str) -> list[Path]:
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH_IN, 0.35 * len(table) + 1.5), sharey=True)
    stages = [("before", "before compression"), ("after", "after compression")]
    _bars(axes[0], table, [(f"distance_to_clean_{s}", n) for s, n in stages], "distance to clean\n(÷ clean spread)")
    _bars(axes[1], table, [(f"realisation_spread_{s}", n) for s, n in stages],
          "spread between realisations\n(÷ clean spread)")
    _bars(axes[2], table, [("symbol_agreement", "all symbols"), ("symbol_agreement_nonzero", "clean symbol ≠ 0")],
          "share of latent symbols\nequal to the clean run's")
    axes[2].set_xlim(0, 1)
    fig.suptitle(f"Fig. 1(c) companion numbers: {table['sequence'].iloc[0]}, {table['setting'].iloc[0]}{note}")
    fig.tight_layout()
    return save_figure(fig, version_dir / "figures" / "fig1c_numbers")


def render(version_dir: str | Path) -> list[Path]:
    vd = Path(version_dir)
    df = measured(vd, "fig1c")
    note = smoke_note(vd)
    table = numbers_table(df)
    (vd / "figures").mkdir(parents=True, exist_ok=True)
    table.to_csv(vd / "figures" / "fig1c.csv", index=False)
    with paper_style():
        return [*_tsne_figure(vd, df, note), *_numbers_figure(vd, table, note), vd / "figures" / "fig1c.csv"]
