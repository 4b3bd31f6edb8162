"""Synthetic camera motion over a still photograph, with exact ground-truth optical flow.

A clip of ``T`` frames of size ``(H, W)`` is cut from a source image ``J`` by a moving, slightly rotating
and zooming window. Frame ``t`` samples ``J`` at ``A_t(p) = M_t (p − c) + o_t`` for every output pixel
``p = (x, y)`` (x = column, y = row, pixel centres at integer coordinates), where ``c = ((W−1)/2, (H−1)/2)``,
``M_t = s_t R(θ_t)`` and ``o_t`` is the window centre in ``J``; ``J`` is interpolated by cubic B-splines.

Flow convention (matches :func:`workbench.models.warp.flow_warp`, backward warping, pixels, (dx, dy)):
``flow[t]`` ``(2, H, W)`` is the displacement from frame ``t`` to frame ``t−1``,

    flow[t](p) = A_{t−1}^{-1}(A_t(p)) − p,    so    frame[t](p) = frame[t−1](p + flow[t](p)),

i.e. ``flow_warp(frame[t−1], flow[t]) ≈ frame[t]``. ``valid[t](p)`` is True where ``p + flow[t](p)`` lies
inside frame ``t−1`` (``[0, W−1] × [0, H−1]``); near the borders the previous frame did not see the content.
``flow[0]`` is zero and ``valid[0]`` all False (frame 0 has no predecessor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class CameraPath:
    """Per-frame affine sampling maps: ``matrices`` (T, 2, 2) acting on (x, y); ``centers`` (T, 2) (x, y)."""

    matrices: np.ndarray
    centers: np.ndarray

    def __len__(self) -> int:
        return int(self.matrices.shape[0])


def random_camera_path(*, frames: int, center_xy: tuple[float, float], seed: int, max_speed: float = 1.6,
                       min_speed: float = 0.4, max_rotation_deg: float = 0.15, max_zoom: float = 0.002
                       ) -> CameraPath:
    """A smooth seeded path: constant velocity (px/frame) plus a small sinusoidal shake, a constant
    rotation rate (deg/frame) and zoom rate (relative scale per frame), centred on ``center_xy``."""
    rng = np.random.default_rng(seed)
    speed = rng.uniform(min_speed, max_speed)
    heading = rng.uniform(0.0, 2.0 * np.pi)
    velocity = speed * np.array([np.cos(heading), np.sin(heading)])
    shake_amp = rng.uniform(0.2, 0.6, size=2)
    shake_freq = rng.uniform(0.3, 0.8, size=2)
    shake_phase = rng.uniform(0.0, 2.0 * np.pi, size=2)
    rot_rate = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
    zoom_rate = rng.uniform(-max_zoom, max_zoom)
    t = np.arange(frames, dtype=np.float64) - (frames - 1) / 2.0
    shake = shake_amp * np.sin(shake_freq * t[:, None] + shake_phase)
    centers = np.asarray(center_xy, dtype=np.float64) + velocity * t[:, None] + shake
    theta, scale = rot_rate * t, 1.0 + zoom_rate * t
    cos, sin = np.cos(theta) * scale, np.sin(theta) * scale
    matrices = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], axis=1)
    return CameraPath(matrices=matrices, centers=centers)


def _grid(size_hw: tuple[int, int]) -> np.ndarray:
    """Centred output coordinates ``p − c`` as (2, H, W) (x, y)."""
    h, w = size_hw
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    return np.stack([xs - (w - 1) / 2.0, ys - (h - 1) / 2.0])


def sample_coords(path: CameraPath, t: int, size_hw: tuple[int, int]) -> np.ndarray:
    """Source coordinates ``A_t(p)`` as (2, H, W) (x, y)."""
    return np.einsum("ij,jhw->ihw", path.matrices[t], _grid(size_hw)) + path.centers[t][:, None, None]


def render(image: np.ndarray, path: CameraPath, size_hw: tuple[int, int]) -> np.ndarray:
    """Frames ``(T, H, W, C)`` float64 in [0, 1] sampled from ``image`` ``(Hs, Ws, C)`` float in [0, 1].

    Raises ``ValueError`` if the path leaves the image (the recipe must keep a margin).
    """
    hs, ws, channels = image.shape
    coeffs = [ndimage.spline_filter(image[:, :, c].astype(np.float64), order=3, mode="mirror")
              for c in range(channels)]
    out = np.empty((len(path), size_hw[0], size_hw[1], channels), dtype=np.float64)
    for t in range(len(path)):
        q = sample_coords(path, t, size_hw)
        if q[0].min() < 1 or q[1].min() < 1 or q[0].max() > ws - 2 or q[1].max() > hs - 2:
            raise ValueError(f"camera path leaves the {ws}x{hs} source image at frame {t}")
        for c in range(channels):
            out[t, :, :, c] = ndimage.map_coordinates(coeffs[c], [q[1], q[0]], order=3, mode="mirror",
                                                      prefilter=False)
    return np.clip(out, 0.0, 1.0)


def camera_flow(path: CameraPath, size_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth backward flow ``(T, 2, H, W)`` float32 (pixels, (dx, dy)), validity ``(T, H, W)`` bool."""
    h, w = size_hw
    flow = np.zeros((len(path), 2, h, w), dtype=np.float32)
    valid = np.zeros((len(path), h, w), dtype=bool)
    grid = _grid(size_hw)
    for t in range(1, len(path)):
        q = sample_coords(path, t, size_hw)
        # A_{t-1}^{-1}(q) = M_{t-1}^{-1}(q − o_{t-1}) + c;  flow = that − p = M^{-1}(q − o) − (p − c)
        back = np.einsum("ij,jhw->ihw", np.linalg.inv(path.matrices[t - 1]),
                         q - path.centers[t - 1][:, None, None])
        f = back - grid
        flow[t] = f.astype(np.float32)
        sx = back[0] + (w - 1) / 2.0
        sy = back[1] + (h - 1) / 2.0
        valid[t] = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
    return flow, valid
