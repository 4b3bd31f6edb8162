"""Raw Bayer frames: packing a mosaic into 4 half-resolution planes and normalising sensor values.

Used for real raw video denoising (CRVD, SRVD; paper Sec. 4, RViDeNet/EMVD protocol, docs/protocols.md §2).

Packing. A Bayer mosaic ``raw`` ``(H, W)`` (H, W even) with 2×2 pattern ``pattern`` (the colours of the
top-left 2×2 block read row by row: ``"GBRG"`` = G B / R G, the CRVD sensor) becomes ``(H/2, W/2, 4)``.
Plane order is independent of the pattern:

- ``order="RGBG"`` (default, RViDeNet ``pack_gbrg_raw``): ``[R, G_r, B, G_b]``;
- ``order="RGGB"``: ``[R, G_r, G_b, B]``;

where ``G_r`` is the green pixel on the red pixel's row and ``G_b`` the green on the blue pixel's row.
Plane ``k`` at ``(i, j)`` is the mosaic pixel of colour ``k`` inside block ``(2i .. 2i+1, 2j .. 2j+1)``.

Normalisation: ``(x − black) / (white − black)`` as float32 (CRVD: black 240, white 2^12 − 1 = 4095); not
clipped unless ``clip=True`` (real noisy data goes below black). What a denoiser is fed is the normalised
noisy frame floored at 0 (:func:`network_input`), as RViDeNet's ``pack_gbrg_raw`` feeds it
(``np.maximum(im − black, 0) / (white − black)``); the ground truth stays unclipped for the metric.
"""

from __future__ import annotations

import numpy as np

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
ORDERS = {"RGBG": ("R", "Gr", "B", "Gb"), "RGGB": ("R", "Gr", "Gb", "B")}
CRVD_BLACK, CRVD_WHITE = 240, 4095


def _offsets(pattern: str) -> dict[str, tuple[int, int]]:
    """(row, col) of R, G_r, G_b, B inside the 2×2 block of ``pattern``."""
    if pattern not in PATTERNS:
        raise ValueError(f"unknown Bayer pattern {pattern!r}; known: {', '.join(PATTERNS)}")
    pos = {(k // 2, k % 2): c for k, c in enumerate(pattern)}
    r = next(p for p, c in pos.items() if c == "R")
    b = next(p for p, c in pos.items() if c == "B")
    return {"R": r, "B": b, "Gr": (r[0], 1 - r[1]), "Gb": (b[0], 1 - b[1])}


def pack_bayer(raw: np.ndarray, pattern: str = "GBRG", order: str = "RGBG") -> np.ndarray:
    """Mosaic ``(H, W)`` → packed planes ``(H/2, W/2, 4)`` in ``order`` (same dtype as ``raw``)."""
    if raw.ndim != 2 or raw.shape[0] % 2 or raw.shape[1] % 2:
        raise ValueError(f"pack_bayer expects an (H, W) mosaic with even H and W, got {raw.shape}")
    off = _offsets(pattern)
    planes = [raw[off[c][0]::2, off[c][1]::2] for c in ORDERS[order]]
    return np.stack(planes, axis=-1)


def unpack_bayer(packed: np.ndarray, pattern: str = "GBRG", order: str = "RGBG") -> np.ndarray:
    """Inverse of :func:`pack_bayer`: ``(H/2, W/2, 4)`` → mosaic ``(H, W)``."""
    if packed.ndim != 3 or packed.shape[2] != 4:
        raise ValueError(f"unpack_bayer expects (H/2, W/2, 4), got {packed.shape}")
    h2, w2, _ = packed.shape
    raw = np.empty((2 * h2, 2 * w2), dtype=packed.dtype)
    off = _offsets(pattern)
    for k, c in enumerate(ORDERS[order]):
        raw[off[c][0]::2, off[c][1]::2] = packed[:, :, k]
    return raw


def normalize_raw(x: np.ndarray, black: float = CRVD_BLACK, white: float = CRVD_WHITE,
                  clip: bool = False) -> np.ndarray:
    """Sensor values → float32 ``(x − black) / (white − black)`` (1.0 = white level)."""
    y = (np.asarray(x, dtype=np.float32) - np.float32(black)) / np.float32(white - black)
    return np.clip(y, 0.0, 1.0) if clip else y


def denormalize_raw(y: np.ndarray, black: float = CRVD_BLACK, white: float = CRVD_WHITE) -> np.ndarray:
    """Inverse of :func:`normalize_raw` (float32 sensor values, not rounded)."""
    return np.asarray(y, dtype=np.float32) * np.float32(white - black) + np.float32(black)


def network_input(y: np.ndarray) -> np.ndarray:
    """A normalised noisy frame as the networks see it: floored at 0 (RViDeNet ``pack_gbrg_raw``), float32."""
    return np.maximum(np.asarray(y, dtype=np.float32), np.float32(0.0))
