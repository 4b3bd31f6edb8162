"""Figures for papers: one style, two files per figure.

:func:`save_figure` writes ``<stem>.pdf`` (vector) and ``<stem>.png`` (300 dpi) and returns both paths.
Widths are those of a two-column paper (CVPR: 3.25 in column, 6.875 in text); :func:`paper_style` sets
font sizes legible at that width (7–8 pt). Conventions the analysis figures follow: a unit on every axis
that has one, small multiples rather than many-entry legends, legends outside the data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

COLUMN_WIDTH_IN = 3.25
TEXT_WIDTH_IN = 6.875
PNG_DPI = 300
STYLE: dict[str, Any] = {
    "font.size": 7, "axes.titlesize": 7, "axes.labelsize": 7, "xtick.labelsize": 6, "ytick.labelsize": 6,
    "legend.fontsize": 6, "figure.titlesize": 8, "axes.linewidth": 0.6, "lines.linewidth": 1.0,
    "lines.markersize": 3, "pdf.fonttype": 42, "ps.fonttype": 42, "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
}


@contextmanager
def paper_style() -> Iterator[None]:
    """Matplotlib settings of the paper figures, restored on exit."""
    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def save_figure(fig: Figure, stem: str | Path) -> list[Path]:
    """Write ``fig`` as ``<stem>.pdf`` and 300-dpi ``<stem>.png``; close it; return the two paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".pdf"), stem.with_suffix(".png")]
    fig.savefig(paths[0])
    fig.savefig(paths[1], dpi=PNG_DPI)
    plt.close(fig)
    return paths
