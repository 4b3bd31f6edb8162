"""Integer-exact resampling of 4:2:0 planes and BT.601 YUV→RGB, the same bits on every CPU.

Used by the embedded camera clips (:mod:`workbench.data.embedded_build`) in place of ffmpeg's scaler and
skimage's float resize, whose SIMD code paths may round differently from one CPU to the next. The only
floating-point steps are element-wise ``+ - * /`` on float64 (correctly rounded by IEEE 754 on every
machine) when the filter taps are laid out; every sum over pixels is an int64 sum.

Conventions:

- Planes are uint8 ``(N, H, W)`` (luma) and ``(N, ceil(H/2), ceil(W/2))`` (chroma). Chroma siting is the
  MPEG-2/H.264 default ("left"): chroma sample ``(i, j)`` sits on luma column ``2j`` and between luma rows
  ``2i`` and ``2i+1``.
- Resampling is a separable triangle (linear) filter whose support is widened by the reduction factor
  (anti-aliased when shrinking, plain bilinear when enlarging), pixel centres aligned, edges replicated.
  Taps are 14-bit integers that sum to exactly ``2**14``.
- Colour: BT.601 limited range (Y 16..235, C 16..240), the matrix of untagged standard-definition video and
  ffmpeg's default for untagged streams; results rounded half up and clipped to 0..255.
"""

from __future__ import annotations

import numpy as np

TAP_BITS = 14
_ONE = 1 << TAP_BITS
_COEF_BITS = 16

_KR, _KB = 0.299, 0.114  # BT.601
_KG = 1.0 - _KR - _KB
_Y_SCALE, _C_SCALE = 255.0 / 219.0, 255.0 / 112.0


def _fixed(c: float) -> int:
    return int(round(c * (1 << _COEF_BITS)))


_CY = _fixed(_Y_SCALE)
_CRV = _fixed(_C_SCALE * (1.0 - _KR))
_CGU = _fixed(_C_SCALE * (1.0 - _KB) * _KB / _KG)
_CGV = _fixed(_C_SCALE * (1.0 - _KR) * _KR / _KG)
_CBU = _fixed(_C_SCALE * (1.0 - _KB))


def taps(n_out: int, n_src: int, start: float, length: float, *, sub: int = 1,
         offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and integer weights ``(n_out, K)`` int64 that map the window ``[start, start+length)``
    (in full-resolution pixels) of a plane of ``n_src`` samples onto ``n_out`` samples.

    ``sub`` is the plane's subsampling factor and ``offset`` the position (full-resolution pixels) of its
    sample 0, e.g. ``sub=2, offset=0.5`` for 4:2:0 chroma rows. Each row of weights sums to ``2**14``.
    """
    step = length / n_out
    centre = start + (np.arange(n_out, dtype=np.float64) + 0.5) * step - 0.5
    pos = (centre - offset) / sub
    radius = max(1.0, step / sub)
    k = 2 * int(np.ceil(radius)) + 1
    first = np.floor(pos - radius).astype(np.int64) + 1
    idx = first[:, None] + np.arange(k, dtype=np.int64)[None, :]
    w = np.maximum(0.0, 1.0 - np.abs(idx - pos[:, None]) / radius)
    raw = np.round(w * (1 << 20)).astype(np.int64)
    total = raw.sum(axis=1, keepdims=True)
    weights = (raw * _ONE + total // 2) // total
    rows = np.arange(n_out)
    weights[rows, np.argmax(weights, axis=1)] += _ONE - weights.sum(axis=1)  # exact unit sum
    return np.clip(idx, 0, n_src - 1), weights


def _apply(plane: np.ndarray, idx: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """Integer weighted sum along ``axis`` of an int64 array (one tap at a time: bounded memory)."""
    moved = np.moveaxis(plane, axis, -1)
    acc = np.zeros((*moved.shape[:-1], idx.shape[0]), dtype=np.int64)
    for j in range(idx.shape[1]):
        acc += moved[..., idx[:, j]] * weights[:, j]
    return np.moveaxis(acc, -1, axis)


def resample_plane(plane: np.ndarray, size_hw: tuple[int, int], crop_xywh: tuple[int, int, int, int], *,
                   sub: int = 1, offset_xy: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """uint8 ``(N, h, w)`` plane → int64 ``(N, *size_hw)`` at scale ``2**28`` (value × 2**28), the luma-pixel
    window ``crop_xywh`` resampled (see :func:`taps` for ``sub`` and ``offset_xy``)."""
    x0, y0, cw, ch = crop_xywh
    ix, wx = taps(size_hw[1], plane.shape[2], x0, cw, sub=sub, offset=offset_xy[0])
    iy, wy = taps(size_hw[0], plane.shape[1], y0, ch, sub=sub, offset=offset_xy[1])
    rows = _apply(plane.astype(np.int64), ix, wx, axis=2)
    return _apply(rows, iy, wy, axis=1)


def yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, scale_bits: int) -> np.ndarray:
    """BT.601 limited-range planes (int64 at scale ``2**scale_bits``, same shape) → uint8 ``(..., 3)`` RGB."""
    one = 1 << scale_bits
    yy = _CY * (y - 16 * one)
    du, dv = u - 128 * one, v - 128 * one
    shift = scale_bits + _COEF_BITS
    half = 1 << (shift - 1)
    channels = [yy + _CRV * dv, yy - _CGU * du - _CGV * dv, yy + _CBU * du]
    return np.stack([np.clip((c + half) >> shift, 0, 255) for c in channels], axis=-1).astype(np.uint8)


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, size_hw: tuple[int, int],
                  crop_xywh: tuple[int, int, int, int]) -> np.ndarray:
    """Decoded 4:2:0 planes → uint8 ``(N, *size_hw, 3)`` RGB of the luma window ``crop_xywh``: each plane
    resampled at its own resolution (chroma sited as in the module docstring), then converted."""
    luma = resample_plane(y, size_hw, crop_xywh)
    cb = resample_plane(u, size_hw, crop_xywh, sub=2, offset_xy=(0.0, 0.5))
    cr = resample_plane(v, size_hw, crop_xywh, sub=2, offset_xy=(0.0, 0.5))
    return yuv_to_rgb(luma, cb, cr, scale_bits=2 * TAP_BITS)
