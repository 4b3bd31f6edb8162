"""Fig. 7 (denoising): the same crop across methods, each titled with its PSNR.

``render(version_dir)`` reads the ``fig7`` rows of ``measured.csv`` and each cell's crops
(``artifacts/<cell>/{clean,restored}.png``) and writes into ``version_dir/figures/``:

- ``fig7.pdf``/``.png``: the clean crop, then every method's crop (the noisy-input row is the noisy crop),
  small multiples of at most 4 per row;
- ``fig7.csv``: per method the crop's and the whole frame's PSNR (dB) and SSIM.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import matplotlib.pyplot as plt
import pandas as pd

from workbench.report.analysis_data import artifact, cells, measured, smoke_note
from workbench.report.figures import TEXT_WIDTH_IN, paper_style, save_figure

PER_ROW = 4


def numbers_table(df: pd.DataFrame) -> pd.DataFrame:
    wide = df.pivot_table(index=["cell", "label", "sequence", "setting", "frame", "crop"],
                          columns=["level", "metric"], values="value", sort=False)
    wide.columns = [f"{col[1]}_{col[0]}" for col in wide.columns]
    return wide.reset_index()


def render(version_dir: str | Path) -> list[Path]:
    vd = Path(version_dir)
    df = measured(vd, "fig7")
    note = smoke_note(vd)
    table = numbers_table(df)
    (vd / "figures").mkdir(parents=True, exist_ok=True)
    table.to_csv(vd / "figures" / "fig7.csv", index=False)
    models = cells(df)
    info = json.loads(artifact(vd, models[0][0], "crop.json").read_text())
    panels = [("clean (reference)", artifact(vd, models[0][0], "clean.png"))]
    for cell, label in models:
        psnr = float(table[table["cell"] == cell]["psnr_db_crop"].iloc[0])
        panels.append((f"{label}\n{psnr:.2f} dB", artifact(vd, cell, "restored.png")))
    rows = math.ceil(len(panels) / PER_ROW)
    with paper_style():
        fig, axes = plt.subplots(rows, PER_ROW, figsize=(TEXT_WIDTH_IN, (TEXT_WIDTH_IN / PER_ROW + 0.35) * rows + 0.3),
                                 squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for ax, (title, path) in zip(axes.ravel(), panels, strict=False):
            ax.imshow(iio.imread(path))
            ax.set_title(title, fontsize=6)
        y, x, h, w = info["box_yxhw"]
        fig.suptitle(f"Fig. 7: {info['sequence']} frame {info['frame']}, crop {h}×{w} at (y={y}, x={x}), "
                     f"σ = {info['sigma']:g}; PSNR of the crop{note}")
        fig.tight_layout()
        return [*save_figure(fig, vd / "figures" / "fig7"), vd / "figures" / "fig7.csv"]
