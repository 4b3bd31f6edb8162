"""Fig. 4: flow of noisy frames before and after MV refinement beside the clean-frame flow and the truth.

``render(version_dir)`` reads the ``fig4`` rows of ``measured.csv`` and each cell's ``artifacts/<cell>/
flows.npz`` and writes into ``version_dir/figures/``:

- ``fig4.pdf``/``.png``: one row per model — noisy frame, ground truth, SPyNet on clean frames, on noisy
  frames before MVR, after MVR (colour-coded with one shared scale; each panel titled with its EPE);
- ``fig4_epe.pdf``/``.png``: mean EPE (pixels) per model against the ground truth and against the
  clean-frame flow;
- ``fig4.csv``: the dataset-level EPE rows.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workbench.evaluate.analysis.flow import endpoint_error
from workbench.report.analysis_data import artifact, cells, measured, smoke_note
from workbench.report.figures import TEXT_WIDTH_IN, paper_style, save_figure
from workbench.report.flowcolour import colour_wheel, flow_to_rgb

PANELS = [("ground_truth", "ground truth"), ("clean", "clean frames"), ("noisy_before_mvr", "noisy, before MVR"),
          ("noisy_after_mvr", "noisy, after MVR")]
FLOW_NAMES = {"clean": "clean frames", "noisy_before_mvr": "noisy, before MVR", "noisy_after_mvr": "noisy, after MVR"}


def epe_table(df: pd.DataFrame) -> pd.DataFrame:
    sel = df[(df["level"] == "dataset") & (df["metric"] == "epe_px")]
    return sel[["cell", "label", "setting", "flow", "reference", "value"]].rename(columns={"value": "epe_px"})


def _examples(version_dir: Path, df: pd.DataFrame, note: str) -> list[Path]:
    models = cells(df)
    data = [dict(np.load(artifact(version_dir, c, "flows.npz"))) for c, _ in models]
    vmax = float(np.quantile(np.hypot(*data[0]["ground_truth"]), 0.99)) or 1.0
    fig, axes = plt.subplots(len(models), len(PANELS) + 2, figsize=(TEXT_WIDTH_IN, 1.0 * len(models) + 0.5),
                             squeeze=False, gridspec_kw={"width_ratios": [1] * (len(PANELS) + 1) + [0.45]})
    for i, ((_, label), d) in enumerate(zip(models, data, strict=True)):
        axes[i, 0].imshow(np.clip(d["noisy_frame"], 0, 1))
        axes[i, 0].set_ylabel(label, fontsize=6)
        axes[i, 0].set_title("noisy frame" if i == 0 else "")
        for j, (key, title) in enumerate(PANELS, start=1):
            axes[i, j].imshow(flow_to_rgb(d[key], vmax))
            epe = "" if key == "ground_truth" else f"EPE {endpoint_error(d[key], d['ground_truth'], d['valid']):.2f} px"
            axes[i, j].set_title(f"{title}\n{epe}" if i == 0 else epe, fontsize=6)
        for ax in axes[i, : len(PANELS) + 1]:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, -1].axis("off")
    colour_wheel(axes[0, -1], vmax)
    axes[0, -1].axis("on")
    fig.suptitle(f"Fig. 4: flow of one frame (x, y in pixels; hue = direction, saturation = magnitude){note}")
    fig.tight_layout()
    return save_figure(fig, version_dir / "figures" / "fig4")


def _epe_figure(version_dir: Path, table: pd.DataFrame, note: str) -> list[Path]:
    labels = list(dict.fromkeys(table["label"]))
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH_IN, 0.3 * len(labels) + 1.2), sharey=True)
    for ax, ref, title in ((axes[0], "ground_truth", "EPE against ground truth (px)"),
                           (axes[1], "clean_flow", "EPE against clean-frame flow (px)")):
        sel = table[table["reference"] == ref]
        flows = [f for f in FLOW_NAMES if f in set(sel["flow"])]
        y = np.arange(len(labels))
        h = 0.8 / max(len(flows), 1)
        for k, f in enumerate(flows):
            vals = [float(sel[(sel["label"] == lb) & (sel["flow"] == f)]["epe_px"].mean()) for lb in labels]
            ax.barh(y + (k - (len(flows) - 1) / 2) * h, vals, height=h, color=f"C{k}", label=FLOW_NAMES[f])
        ax.set_yticks(y)
        ax.set_yticklabels(labels)
        ax.invert_yaxis()
        ax.set_xscale("log")  # errors of a working and of a diverged flow differ by orders of magnitude
        ax.set_xlabel(title + ", log scale")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False, ncol=3)
    fig.suptitle(f"Fig. 4: mean endpoint error on the synthetic-motion clips, {table['setting'].iloc[0]}{note}")
    fig.tight_layout()
    return save_figure(fig, version_dir / "figures" / "fig4_epe")


def render(version_dir: str | Path) -> list[Path]:
    vd = Path(version_dir)
    df = measured(vd, "fig4")
    note = smoke_note(vd)
    table = epe_table(df)
    (vd / "figures").mkdir(parents=True, exist_ok=True)
    table.to_csv(vd / "figures" / "fig4.csv", index=False)
    with paper_style():
        return [*_examples(vd, df, note), *_epe_figure(vd, table, note), vd / "figures" / "fig4.csv"]
