"""Synthetic rain for the embedded deraining splits: motion-blurred streaks, screen-blended, and the
rain-accumulation veil of RainSynAll100; pure and seeded.

For frame ``t`` of a clean frame ``B`` ``(H, W, 3)`` float32 RGB in [0, 1]:

1. **Drops.** ``u, a ~ U[0, 1)`` ``(H, W)`` from ``numpy.random.default_rng([seed, t])``; the impulse map is
   ``D = (0.5 + 0.5·a) · [u < density]``. ``density`` is the expected share of pixels where a streak starts;
   for a fixed seed the drop sets are nested in ``density`` (the same ``u``), so the covered fraction grows
   monotonically with it (tested).
2. **Motion blur.** ``S = clip(gain · (D ⊛ k), 0, 1)`` with ``k`` the line kernel of :func:`line_kernel`
   (``length`` pixels at ``angle`` degrees from vertical, normalised to sum 1: a drop falling during the
   exposure) and ``gain = length · intensity``, so a lone streak has a peak of about ``intensity · (0.5 +
   0.5·a)``. The streak layer is grey (rain is colourless).
3. **Screen blend.** ``R = 1 − (1 − B)(1 − S)`` per channel: the streak adds light and never darkens, and
   the result stays in [0, 1].
4. **Accumulation** (``accumulation_beta > 0``; RainSynAll100, Yang et al. TPAMI 2021, whose rendering
   adds a veil of distant, unresolved rain to the streaks, docs/protocols.md §3.2): ``O = R · t + A · (1 −
   t)``, ``t = exp(−β · d)`` with the depth proxy and the scattering model of :mod:`workbench.degrade.haze`
   (the veil is haze made of rain). Without it ``O = R``.

Drop positions are redrawn every frame (rain falls faster than a frame), the orientation, length and
intensity are those of the split (:class:`RainParams`). Seeds come from :func:`rain_seed` ``(dataset,
sequence)``; frame ``t`` depends only on ``(seed, t)``, so streaming one frame at a time gives the bits of
degrading the clip at once. **[choice]**: the RainSyn sets were rendered with their own streak models; these
parameters only give the embedded clips rain of a similar look (docs/protocols.md §3), not their statistics.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from workbench.degrade.haze import ramp_depth, scatter, transmission
from workbench.errors import ConfigError


@dataclass(frozen=True)
class RainParams:
    """Streaks: ``density`` (share of pixels starting a streak, in [0, 1]), ``length`` (pixels),
    ``angle`` (degrees from vertical, positive leans right at the bottom), ``intensity`` (peak brightness,
    [0, 1] scale); accumulation: ``accumulation_beta`` (0 = none) and ``airlight`` ([0, 1]) over the depth
    ramp ``far`` (top row) → ``near`` (bottom row) of :func:`workbench.degrade.haze.ramp_depth`."""

    density: float = 0.004
    length: int = 15
    angle: float = 12.0
    intensity: float = 0.8
    accumulation_beta: float = 0.0
    airlight: float = 0.85
    near: float = 0.3
    far: float = 1.5

    def validate(self) -> None:
        if not 0.0 <= self.density <= 1.0:
            raise ConfigError(f"rain: density is a share of pixels in [0, 1], got {self.density}")
        if self.length < 1:
            raise ConfigError(f"rain: length must be at least 1 pixel, got {self.length}")
        if not 0.0 <= self.intensity <= 1.0 or not 0.0 <= self.airlight <= 1.0:
            raise ConfigError(f"rain: intensity and airlight are in [0, 1], got {self.intensity}, {self.airlight}")
        if self.accumulation_beta < 0:
            raise ConfigError(f"rain: accumulation_beta must be >= 0 (0 = no veil), got {self.accumulation_beta}")


def rain_seed(dataset: str, sequence: str) -> int:
    """A 63-bit seed from ``(dataset, sequence)`` (the pattern of :func:`workbench.degrade.awgn.noise_seed`)."""
    key = f"rain/{dataset}/{sequence}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") & (2**63 - 1)


def line_kernel(length: int, angle: float) -> np.ndarray:
    """Motion-blur kernel ``(K, K)`` float64, ``K`` = the odd size that holds the segment: a line of
    ``length`` pixels through the centre at ``angle`` degrees from vertical, drawn with bilinear weights
    at ``4 · length`` points and normalised to sum 1."""
    theta = math.radians(angle)
    dy, dx = math.cos(theta), math.sin(theta)
    half = (length - 1) / 2.0
    size = 2 * int(math.ceil(half)) + 3
    c = size // 2
    kernel = np.zeros((size, size), dtype=np.float64)
    for s in np.linspace(-half, half, max(1, 4 * length)):
        y, x = c + s * dy, c + s * dx
        y0, x0 = int(math.floor(y)), int(math.floor(x))
        fy, fx = y - y0, x - x0
        for yy, xx, w in ((y0, x0, (1 - fy) * (1 - fx)), (y0 + 1, x0, fy * (1 - fx)),
                          (y0, x0 + 1, (1 - fy) * fx), (y0 + 1, x0 + 1, fy * fx)):
            kernel[yy, xx] += w
    return kernel / kernel.sum()


def drops(height: int, width: int, density: float, seed: int, frame_index: int) -> np.ndarray:
    """The impulse map ``D`` ``(H, W)`` float64 of frame ``frame_index`` (step 1 of the module docstring)."""
    rng = np.random.default_rng([seed, frame_index])
    u = rng.random((height, width))
    a = rng.random((height, width))
    return np.where(u < density, 0.5 + 0.5 * a, 0.0)


def streak_layer(height: int, width: int, params: RainParams, seed: int, frame_index: int) -> np.ndarray:
    """The grey streak layer ``S`` ``(H, W)`` float32 in [0, 1] of frame ``frame_index``."""
    d = drops(height, width, params.density, seed, frame_index)
    blurred = ndimage.convolve(d, line_kernel(params.length, params.angle), mode="constant", cval=0.0)
    return np.clip(params.length * params.intensity * blurred, 0.0, 1.0).astype(np.float32)


def screen_blend(clean: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """``1 − (1 − B)(1 − S)`` for ``clean`` ``(H, W, 3)`` and a grey ``layer`` ``(H, W)``; float32."""
    s = np.asarray(layer, dtype=np.float32)[..., None]
    return (1.0 - (1.0 - clean.astype(np.float32, copy=False)) * (1.0 - s)).astype(np.float32)


def covered_fraction(layer: np.ndarray, threshold: float = 1.0 / 255.0) -> float:
    """Share of pixels where the streak layer adds at least ``threshold`` (one 8-bit level by default)."""
    return float(np.mean(np.asarray(layer) >= threshold))


def add_rain_frame(frame: np.ndarray, params: RainParams, seed: int, frame_index: int) -> np.ndarray:
    """``frame`` ``(H, W, 3)`` float32 in [0, 1] with the rain of ``(seed, frame_index)``; float32 in [0, 1]."""
    h, w = frame.shape[:2]
    rainy = screen_blend(frame, streak_layer(h, w, params, seed, frame_index))
    if params.accumulation_beta > 0:
        depth = ramp_depth(h, w, near=params.near, far=params.far)
        rainy = scatter(rainy, transmission(depth, params.accumulation_beta), params.airlight)
    return rainy
