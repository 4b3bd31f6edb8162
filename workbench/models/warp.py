"""Bilinear backward warping with an optical flow (shared by SPyNet, NCFL, BasicVSR, BasicVSR++).

``flow_warp(x, flow)`` samples ``x`` at ``p + flow(p)`` for every output pixel ``p``:
``x`` is ``(N, C, H, W)``, ``flow`` is ``(N, 2, H, W)`` in pixels with channel 0 = horizontal (x) and
channel 1 = vertical (y) displacement. Out-of-frame samples are zero (``padding_mode="zeros"``);
``align_corners=True`` so that pixel centres map exactly (the BasicSR/MMagic convention).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def flow_warp(
    x: Tensor, flow: Tensor, interpolation: str = "bilinear", padding_mode: str = "zeros"
) -> Tensor:
    """Backward-warp ``x`` (N, C, H, W) with ``flow`` (N, 2, H, W), pixels, (dx, dy)."""
    if x.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"flow {tuple(flow.shape)} and input {tuple(x.shape)} differ in size")
    n, _, h, w = x.shape
    gy, gx = torch.meshgrid(
        torch.arange(h, dtype=x.dtype, device=x.device),
        torch.arange(w, dtype=x.dtype, device=x.device),
        indexing="ij",
    )
    sx = gx.unsqueeze(0) + flow[:, 0]
    sy = gy.unsqueeze(0) + flow[:, 1]
    # normalise to [-1, 1] with align_corners=True
    nx = 2.0 * sx / max(w - 1, 1) - 1.0
    ny = 2.0 * sy / max(h - 1, 1) - 1.0
    grid = torch.stack((nx, ny), dim=-1)
    return F.grid_sample(x, grid, mode=interpolation, padding_mode=padding_mode, align_corners=True)
