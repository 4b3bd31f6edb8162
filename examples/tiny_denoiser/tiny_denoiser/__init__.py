"""A minimal user model for the workbench (docs/plugins.md): a 3-frame window denoiser with a noise map.

The interface it satisfies is :class:`workbench.models.base.RestorationModel`:

- ``temporal_mode = "window"`` and ``window = 3``: ``forward(clip, noise_map)`` gets ``clip`` of shape
  ``(N, 3, 3, H, W)`` (float32 RGB in [0, 1]) and returns the restored centre frame ``(N, 3, H, W)``;
- ``uses_noise_map = True``: ``noise_map`` is ``(N, 1, H, W)``, σ/255 (σ on the [0, 255] scale);
- ``size_multiple = 4``: streaming inference pads H and W up to a multiple of 4 (reflect) and crops back.

The workbench trains it with its one loop (``train: {recipe: …}``) and evaluates it with its one streaming
inferencer; the model has no optimiser and no file I/O.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from workbench.models.base import RestorationModel


class TinyDenoiser(RestorationModel):
    """Residual denoiser: centre frame + conv(3 frames ‖ noise map)."""

    temporal_mode = "window"
    window = 3
    uses_noise_map = True
    size_multiple = 4

    def __init__(self, *, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3 * 3 + 1, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(width, 3, 3, padding=1),
        )

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        n, t, c, h, w = clip.shape
        if noise_map is None:
            noise_map = clip.new_zeros(n, 1, h, w)
        x = torch.cat([clip.reshape(n, t * c, h, w), noise_map.expand(n, 1, h, w)], dim=1)
        return clip[:, t // 2] + self.body(x)


def build(*, width: int = 8) -> TinyDenoiser:
    """The factory a spec names as ``model: tiny_denoiser:build``."""
    return TinyDenoiser(width=width)


__all__ = ["TinyDenoiser", "build"]
