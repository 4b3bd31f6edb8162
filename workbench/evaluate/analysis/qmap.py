"""Quantization-step map against image texture (Fig. 6: "the quantization step size of the smooth region
is usually larger [...] By contrast, the quantization step size of texture region [...] is usually smaller").

The step map ``q`` lives on the latent grid (1/4 of the frame's side, rounded up). Texture is measured on
the **clean** frame as the variance of its luma (BT.601 weights) over each latent cell's footprint
(``block × block`` pixels, edge-padded). :func:`rank_correlation` is Spearman's ρ of q against it: the
paper's statement predicts ρ < 0. Neighbouring cells are not independent, so the p-value that
:func:`scipy.stats.spearmanr` would give is over-confident and is not reported.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

LUMA = np.array([0.299, 0.587, 0.114])


def luma(frame: np.ndarray) -> np.ndarray:
    """``(H, W)`` luma of an ``(H, W, 3)`` RGB frame (or the single channel of ``(H, W, 1)``)."""
    return frame[..., 0] if frame.shape[-1] == 1 else frame[..., :3] @ LUMA


def block_variance(frame: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    """Luma variance over each ``block × block`` cell, on a grid of ``shape`` = (h, w) cells."""
    y = luma(frame.astype(np.float64))
    h, w = shape
    ph, pw = max(0, h * block - y.shape[0]), max(0, w * block - y.shape[1])
    y = np.pad(y, ((0, ph), (0, pw)), mode="edge")[: h * block, : w * block]
    cells = y.reshape(h, block, w, block).transpose(0, 2, 1, 3).reshape(h, w, block * block)
    return cells.var(axis=-1)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ between the flattened arrays (NaN when either is constant)."""
    a, b = np.ravel(a), np.ravel(b)
    if a.size != b.size:
        raise ValueError(f"arrays of {a.size} and {b.size} elements")
    if np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(spearmanr(a, b).statistic)


def sign(x: float) -> int:
    """−1, 0 or +1 (0 for NaN)."""
    return 0 if not np.isfinite(x) or x == 0 else int(np.sign(x))
