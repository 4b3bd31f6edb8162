"""Fig. 6: one channel of the learned quantization-step map q beside its frame, and the measured sign.

``render(version_dir)`` reads the ``fig6`` rows of ``measured.csv`` and each cell's ``artifacts/<cell>/
qmap.npz`` and writes into ``version_dir/figures/``:

- ``fig6.pdf``/``.png``: one row per model — the clean frame, the channel of q that varies most, the clean
  luma variance per latent cell (log scale), and q against that variance with Spearman's ρ;
- ``fig6.csv``: the dataset-level numbers per model (ρ and its sign, channel median, share of channels
  with ρ < 0, q smooth / q textured).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from workbench.evaluate.analysis.qmap import rank_correlation
from workbench.report.analysis_data import artifact, cells, measured, smoke_note
from workbench.report.figures import TEXT_WIDTH_IN, paper_style, save_figure


def numbers_table(df: pd.DataFrame) -> pd.DataFrame:
    sel = df[df["level"] == "dataset"]
    wide = sel.pivot_table(index=["cell", "label", "setting"], columns="metric", values="value", sort=False)
    return wide.reset_index()


def _row(axes: np.ndarray, d: dict[str, np.ndarray], label: str, first: bool) -> None:
    q, var = d["q"], d["variance"]
    c = int(np.argmax(q.reshape(q.shape[0], -1).std(axis=1)))
    axes[0].imshow(np.clip(d["clean_frame"], 0, 1))
    axes[0].set_ylabel(label, fontsize=6)
    im = axes[1].imshow(q[c], cmap="gray")
    plt.colorbar(im, ax=axes[1], fraction=0.046, pad=0.02).set_label("step q (latent units)", fontsize=5)
    floor = max(float(var[var > 0].min()) if (var > 0).any() else 1e-6, 1e-6)
    im = axes[2].imshow(np.maximum(var, floor), cmap="magma", norm=LogNorm())
    plt.colorbar(im, ax=axes[2], fraction=0.046, pad=0.02).set_label("luma variance ([0, 1]²)", fontsize=5)
    for ax in axes[:3]:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[3].scatter(np.maximum(var.ravel(), floor), q[c].ravel(), s=1.5, alpha=0.5, linewidths=0)
    axes[3].set_xscale("log")
    axes[3].set_xlabel("luma variance ([0, 1]²)")
    axes[3].set_ylabel("step q (latent units)")
    axes[3].set_title(f"Spearman ρ = {rank_correlation(q[c], var):+.2f} (this frame)", fontsize=6)
    if first:
        for ax, t in zip(axes[:3], ("clean frame", f"q, channel {c}", "texture"), strict=True):
            ax.set_title(t)


def render(version_dir: str | Path) -> list[Path]:
    vd = Path(version_dir)
    df = measured(vd, "fig6")
    note = smoke_note(vd)
    table = numbers_table(df)
    (vd / "figures").mkdir(parents=True, exist_ok=True)
    table.to_csv(vd / "figures" / "fig6.csv", index=False)
    models = cells(df)
    with paper_style():
        fig, axes = plt.subplots(len(models), 4, figsize=(TEXT_WIDTH_IN, 1.35 * len(models) + 0.4), squeeze=False)
        for i, (cell, label) in enumerate(models):
            rho = table[table["cell"] == cell]["rho_q_mean_vs_variance"]
            tag = f"{label}\nρ (all) = {float(rho.iloc[0]):+.2f}" if len(rho) else label
            _row(axes[i], dict(np.load(artifact(vd, cell, "qmap.npz"))), tag, i == 0)
        fig.suptitle(f"Fig. 6: quantization step vs texture; the paper predicts ρ < 0{note}")
        fig.tight_layout()
        return [*save_figure(fig, vd / "figures" / "fig6"), vd / "figures" / "fig6.csv"]
