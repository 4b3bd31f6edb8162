"""Restoration (feature fusion) module of NCFL: Sec. 4.4 of Huang et al., CVPR 2022.

"It will fuse the noise-robust temporal features c~_t with the current frame x_t, and then generates the
final output frame y~_t [...] the restoration module also generates the temporal features c_t used for the
next step, like [7] (BasicVSR). Our restoration module is based on a lightweight U-Net"; the supplement's
figure (not available) names channel-attention blocks (CAB) at each scale. "Ours-L" replaces the U-Net by
a W-Net (two stacked U-Nets, ref. [38]).

Implemented (unstated choices marked *):

- input ``[x_t, c~_t (, extra features) (, noise map)]`` → head conv3 → U-Net → features ``c_t``
  (``channels[0]`` wide, full resolution) → tail conv3 → ``y~_t = x_t + tail(c_t)`` (*residual to the input);
- U-Net with ``len(channels)`` scales; at each scale ``blocks`` CABs on the way down and ``blocks`` on the
  way up; *down = conv3 stride 2, *up = conv3 + PixelShuffle(2), *skips are added (not concatenated);
- CAB (as in MPRNet): conv3, LeakyReLU, conv3, squeeze-and-excitation channel attention (global average
  pool, 1x1 ``C→C/4``, ReLU, 1x1 ``C/4→C``, sigmoid) scaling the branch, plus the identity;
- W-Net: a second U-Net of the same widths applied to the first one's features (its own head conv3).

Shapes: frame ``(N, C, H, W)``; features ``(N, F, H, W)``; outputs ``(N, C, H, W)`` and
``(N, channels[0], H, W)``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from workbench.models.ncfl.layers import Up2, act, conv3, crop_to

RestorationKind = Literal["unet", "wnet"]


class CAB(nn.Module):
    """Channel-attention block: ``x + SE(conv(act(conv(x))))``."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.body = nn.Sequential(conv3(channels, channels), act(), conv3(channels, channels))
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(),
                                nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        r = self.body(x)
        return x + r * self.se(r)


class UNet(nn.Module):
    """CAB U-Net: ``in_channels`` → ``channels[0]`` features at full resolution."""

    def __init__(self, *, in_channels: int, channels: tuple[int, ...], blocks: int) -> None:
        super().__init__()
        self.head = nn.Sequential(conv3(in_channels, channels[0]), act())
        levels = len(channels)
        self.enc = nn.ModuleList(nn.Sequential(*(CAB(c) for _ in range(blocks))) for c in channels[:-1])
        self.down = nn.ModuleList(conv3(channels[i], channels[i + 1], stride=2) for i in range(levels - 1))
        self.bottom = nn.Sequential(*(CAB(channels[-1]) for _ in range(blocks)))
        self.up = nn.ModuleList(Up2(channels[i + 1], channels[i]) for i in range(levels - 1))
        self.dec = nn.ModuleList(nn.Sequential(*(CAB(c) for _ in range(blocks))) for c in channels[:-1])

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)
        skips = []
        for enc, down in zip(self.enc, self.down):
            h = enc(h)
            skips.append(h)
            h = down(h)
        h = self.bottom(h)
        for i in reversed(range(len(skips))):
            h = self.dec[i](crop_to(self.up[i](h), skips[i].shape) + skips[i])
        return h


class RestorationNet(nn.Module):
    """Fuses the frame with temporal features; returns ``(restored frame or None, next features)``.

    ``extra_channels``: further inputs concatenated after the features (the noise map, and in the
    bi-directional model the backward branch's features). ``with_output=False`` drops the tail conv
    (the backward branch of :class:`~workbench.models.ncfl.model.NCFLBi` only propagates features)."""

    def __init__(
        self,
        *,
        frame_channels: int,
        feat_channels: int,
        extra_channels: int = 0,
        channels: tuple[int, ...] = (64, 128, 256),
        blocks: int = 2,
        kind: RestorationKind = "unet",
        with_output: bool = True,
    ) -> None:
        super().__init__()
        if kind not in ("unet", "wnet"):
            raise ValueError(f"restoration={kind!r}; use 'unet' or 'wnet'")
        cin = frame_channels + feat_channels + extra_channels
        self.unet1 = UNet(in_channels=cin, channels=channels, blocks=blocks)
        self.unet2 = (UNet(in_channels=channels[0], channels=channels, blocks=blocks)
                      if kind == "wnet" else None)
        self.tail = conv3(channels[0], frame_channels) if with_output else None

    def forward(self, frame: Tensor, features: Tensor, *extra: Tensor) -> tuple[Tensor | None, Tensor]:
        h = self.unet1(torch.cat([frame, features, *extra], dim=1))
        if self.unet2 is not None:
            h = self.unet2(h)
        out = None if self.tail is None else frame + self.tail(h)
        return out, h
