"""Flow colour coding for figures: hue = direction, saturation = magnitude (white = no motion).

Directions follow the image axes (x right, y down); one ``max_magnitude`` is shared by every panel of a
figure so that colours compare. :func:`colour_wheel` draws the key.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import hsv_to_rgb


def flow_to_rgb(flow: np.ndarray, max_magnitude: float) -> np.ndarray:
    """``(H, W, 3)`` RGB in [0, 1] of a ``(2, H, W)`` flow in pixels."""
    dx, dy = flow[0].astype(np.float64), flow[1].astype(np.float64)
    hue = (np.arctan2(dy, dx) / (2 * np.pi)) % 1.0
    sat = np.clip(np.hypot(dx, dy) / max(max_magnitude, 1e-6), 0, 1)
    return hsv_to_rgb(np.stack([hue, sat, np.ones_like(hue)], axis=-1))


def colour_wheel(ax: Axes, max_magnitude: float, size: int = 65) -> None:
    """The colour key on ``ax``: a disc whose rim is ``max_magnitude`` pixels."""
    r = np.linspace(-max_magnitude, max_magnitude, size)
    dx, dy = np.meshgrid(r, r)
    rgb = flow_to_rgb(np.stack([dx, dy]), max_magnitude)
    rgb[np.hypot(dx, dy) > max_magnitude] = 1.0
    ax.imshow(rgb, extent=(-max_magnitude, max_magnitude, max_magnitude, -max_magnitude))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"key: rim = {max_magnitude:.2g} px", fontsize=5)
