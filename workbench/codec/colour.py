"""RGB ↔ Y'CbCr 4:2:0 conversion, written here so the codec study controls it (not ffmpeg's swscale).

Conventions (docs/protocols.md §6, DCVC-DC ``src/transforms/functional.py``):

- RGB frames are float ``(H, W, 3)`` in ``[0, 1]`` (gamma-encoded R'G'B', as stored in the PNGs);
- luma ``Y' = Kr·R + Kg·G + Kb·B`` with ``(Kr, Kb) = (0.2126, 0.0722)`` for BT.709 and
  ``(0.299, 0.114)`` for BT.601; ``Cb = 0.5·(B − Y')/(1 − Kb)``, ``Cr = 0.5·(R − Y')/(1 − Kr)``;
- range: ``full`` maps ``Y'`` to ``[0, 1]`` and ``Cb, Cr`` to ``[0, 1]`` around 0.5 (8-bit codes
  ``round(255·v)``); ``limited`` maps to codes ``16 + 219·Y'`` and ``128 + 224·C`` (divided by 255 here);
- planes in this module are float "code / 255" values; :func:`quantise` rounds them to ``uint8``;
- 4:2:0 chroma: 2×2 **mean** downsampling (chroma sited at the centre of each 2×2 block), upsampling
  ``bilinear`` (centre-aligned, edge-clamped, separable [1/4, 3/4] taps) or ``nearest`` (2×2 replication).

The inverse of the 4:4:4 conversion is the exact matrix inverse (float64), so RGB → YCbCr → RGB is the
identity up to float rounding; with 8-bit YCbCr the error per channel is bounded by
``0.5/255 · max_row_abs_sum(inverse)`` (see :func:`quantisation_error_bound`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

_KR_KB = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}


@dataclass(frozen=True)
class ColourSpec:
    """Declared colour conversion: matrix, range and chroma upsampling filter."""

    matrix: Literal["bt709", "bt601"] = "bt709"
    range: Literal["full", "limited"] = "full"
    chroma_up: Literal["bilinear", "nearest"] = "bilinear"

    def label(self) -> str:
        """Short id recorded with every result row, e.g. ``bt709-full;420-mean2x2;up-bilinear``."""
        return f"{self.matrix}-{self.range};420-mean2x2;up-{self.chroma_up}"

    def forward_matrix(self) -> np.ndarray:
        """3×3 float64 matrix mapping R'G'B' to (Y', Cb, Cr) without offsets or range scaling."""
        kr, kb = _KR_KB[self.matrix]
        kg = 1.0 - kr - kb
        return np.array(
            [
                [kr, kg, kb],
                [-0.5 * kr / (1 - kb), -0.5 * kg / (1 - kb), 0.5],
                [0.5, -0.5 * kg / (1 - kr), -0.5 * kb / (1 - kr)],
            ],
            dtype=np.float64,
        )

    def _scale_offset(self) -> tuple[np.ndarray, np.ndarray]:
        if self.range == "full":
            return np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.5, 0.5])
        return np.array([219.0, 224.0, 224.0]) / 255.0, np.array([16.0, 128.0, 128.0]) / 255.0


def luma(rgb: np.ndarray, spec: ColourSpec) -> np.ndarray:
    """``Y' = Kr·R + Kg·G + Kb·B`` of ``(..., 3)`` RGB, in ``[0, 1]`` (before any range mapping)."""
    return np.asarray(rgb, dtype=np.float64) @ spec.forward_matrix()[0]


def rgb_to_ycbcr(rgb: np.ndarray, spec: ColourSpec) -> np.ndarray:
    """``(..., 3)`` RGB in [0, 1] → ``(..., 3)`` Y'CbCr as float code/255 values (float64, 4:4:4)."""
    scale, offset = spec._scale_offset()
    return (np.asarray(rgb, dtype=np.float64) @ spec.forward_matrix().T) * scale + offset


def ycbcr_to_rgb(ycc: np.ndarray, spec: ColourSpec) -> np.ndarray:
    """Exact inverse of :func:`rgb_to_ycbcr` (float64, unclipped)."""
    scale, offset = spec._scale_offset()
    return ((np.asarray(ycc, dtype=np.float64) - offset) / scale) @ np.linalg.inv(spec.forward_matrix()).T


def quantisation_error_bound(spec: ColourSpec, bits: int = 8) -> float:
    """Largest RGB error (in [0, 1] units) that rounding Y'CbCr to ``bits``-bit codes can cause."""
    scale, _ = spec._scale_offset()
    inv = np.linalg.inv(spec.forward_matrix()) / scale
    return float(np.abs(inv).sum(axis=1).max() * 0.5 / (2**bits - 1))


def quantise(planes: np.ndarray) -> np.ndarray:
    """Float code/255 values → ``uint8`` codes (round half to even, clipped to [0, 255])."""
    return np.clip(np.rint(np.asarray(planes, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


@dataclass
class Yuv420:
    """One 4:2:0 frame: ``y`` (H, W), ``u`` and ``v`` (H/2, W/2); ``uint8`` codes or float code/255."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return int(self.y.shape[0]), int(self.y.shape[1])


def downsample_chroma(plane: np.ndarray) -> np.ndarray:
    """2×2 mean of an (H, W) plane with even H and W."""
    h, w = plane.shape
    return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _upsample_axis(x: np.ndarray, axis: int) -> np.ndarray:
    # centre-sited chroma: output sample 2i sits at i − 1/4, 2i+1 at i + 1/4 (edge-clamped)
    n = x.shape[axis]
    idx = np.arange(n)
    prev = np.take(x, np.clip(idx - 1, 0, n - 1), axis=axis)
    nxt = np.take(x, np.clip(idx + 1, 0, n - 1), axis=axis)
    even, odd = 0.75 * x + 0.25 * prev, 0.75 * x + 0.25 * nxt
    out = np.stack([even, odd], axis=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return out.reshape(shape)


def upsample_chroma(plane: np.ndarray, method: str) -> np.ndarray:
    """(H/2, W/2) → (H, W) with the declared filter (``bilinear`` or ``nearest``)."""
    plane = np.asarray(plane, dtype=np.float64)
    if method == "nearest":
        return np.repeat(np.repeat(plane, 2, axis=0), 2, axis=1)
    if method == "bilinear":
        return _upsample_axis(_upsample_axis(plane, 0), 1)
    raise ValueError(f"unknown chroma upsampling {method!r}")


def rgb_to_yuv420(rgb: np.ndarray, spec: ColourSpec) -> Yuv420:
    """``(H, W, 3)`` RGB in [0, 1] (H, W even) → 8-bit 4:2:0 frame (chroma averaged before rounding)."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"4:2:0 needs even frame sizes, got {h}x{w}")
    ycc = rgb_to_ycbcr(rgb, spec)
    return Yuv420(
        y=quantise(ycc[..., 0]),
        u=quantise(downsample_chroma(ycc[..., 1])),
        v=quantise(downsample_chroma(ycc[..., 2])),
    )


def yuv420_to_rgb(frame: Yuv420, spec: ColourSpec) -> np.ndarray:
    """8-bit (or float code/255) 4:2:0 frame → float32 ``(H, W, 3)`` RGB, unclipped."""

    def norm(p: np.ndarray) -> np.ndarray:
        return p.astype(np.float64) / 255.0 if p.dtype == np.uint8 else p.astype(np.float64)

    ycc = np.stack(
        [
            norm(frame.y),
            upsample_chroma(norm(frame.u), spec.chroma_up),
            upsample_chroma(norm(frame.v), spec.chroma_up),
        ],
        axis=-1,
    )
    return ycbcr_to_rgb(ycc, spec).astype(np.float32)
