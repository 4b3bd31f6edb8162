"""BasicVSR adapted to video denoising: full-resolution features, no up-sampling.

Paper: K. C. K. Chan, X. Wang, K. Yu, C. Dong, C. C. Loy, "BasicVSR: The Search for Essential Components
in Video Super-Resolution and Beyond", CVPR 2021 (Sec. 3, Fig. 3: SPyNet flow, feature warping, residual
blocks per propagation branch). The NCFL paper (CVPR 2022, Table 1/8) compares against BasicVSR re-trained
for denoising, uni-directional (forward propagation only) and bi-directional, without up-sampling.
Architecture and checkpoint key layout read from XPixelGroup/BasicSR ``basicsr/archs/basicvsr_arch.py``
(commit 8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a) and open-mmlab/mmagic
``mmagic/models/editors/basicvsr/basicvsr_net.py`` (commit 0a560bba9b79ebe78574e1d4cbbdd0e798e63568).
The code is written for the workbench; parameter names follow the BasicSR checkpoint layout
(``spynet.*``, ``forward_trunk.main.*``, ``backward_trunk.main.*``, ``fusion``, ``conv_hr``, ``conv_last``)
so that :mod:`baselines.importers_basicvsr` can transfer official weights with an explicit report.

Denoising variants (what differs from the ×4 super-resolution network):

- features stay at the input resolution and the ×4 tail (``upconv1/2`` + pixel shuffle) is replaced by a
  head chosen with ``head`` (see :data:`Head`); the output is ``input frame + head(features)``;
- ``BasicVSRUni`` keeps only the forward branch (one SPyNet flow per frame, no ``fusion``) and runs as a
  constant-memory recurrence (``step``); ``BasicVSRBi`` keeps both branches and the 1×1 ``fusion``.

Parameter counts (num_feat=64, num_block=30; SPyNet 1,440,300 of them):

========== ============ ============ ============
direction  head "min"   head "hr"    head "up64"
========== ============ ============ ============
uni        3,696,367    3,733,295    3,807,151
bi         5,958,959    5,995,887    6,069,743
========== ============ ============ ============

Conventions: clips ``(N, T, 3, H, W)`` float32 RGB in ``[0, 1]``, ``H, W >= 64`` (SPyNet's 6-level pyramid
on inputs rounded up to multiples of 32); outputs are not clamped. Blind: ``noise_map`` is ignored.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.blocks import ResidualBlockNoBN
from workbench.models.base import RestorationModel, forward_by_steps
from workbench.models.spynet import SPyNet
from workbench.models.warp import flow_warp

#: Output head on the final features (all keep the input resolution):
#: ``"min"`` = ``conv_last`` (C→3);
#: ``"hr"`` = ``lrelu(conv_hr)`` (C→C) then ``conv_last`` — the default; with it BasicVSR++-uni matches the
#: NCFL paper's FLOPs (see ``docs/complexity.md``);
#: ``"up64"`` = ``lrelu(upconv1)``, ``lrelu(upconv2)`` (C→C each, no pixel shuffle), ``lrelu(conv_hr)``,
#: ``conv_last``: the super-resolution tail with the shuffles removed.
#: Head parameters at C=64: "min" 1,731; "hr" 38,659; "up64" 112,515. The original ×4 tail is 64 channels
#: wide whatever ``num_feat``; these heads are ``num_feat`` wide (identical at the default 64).
Head = Literal["min", "hr", "up64"]
HEADS: tuple[str, ...] = ("min", "hr", "up64")


class ConvResidualBlocks(nn.Module):
    """``main`` = [3×3 conv in→out, LeakyReLU(0.1), ``num_block`` residual blocks]
    (keys ``main.0.*``, ``main.2.<k>.conv{1,2}.*``)."""

    def __init__(self, *, in_channels: int, out_channels: int, num_block: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1),
            nn.LeakyReLU(0.1),
            nn.Sequential(*[ResidualBlockNoBN(num_feat=out_channels) for _ in range(num_block)]),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)


class HeadMixin(nn.Module):
    """Registers the output head's convolutions at the top level (``conv_hr``, ``conv_last``, ...)."""

    head_kind: str

    def _build_head(self, head: str, num_feat: int) -> None:
        if head not in HEADS:
            raise ValueError(f"head={head!r}; expected one of {HEADS}")
        self.head_kind = head
        if head == "up64":
            self.upconv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.upconv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        if head in ("hr", "up64"):
            self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)

    def _head(self, feat: Tensor) -> Tensor:
        """Residual (N, 3, H, W) predicted from features (N, C, H, W)."""
        if self.head_kind == "up64":
            feat = F.leaky_relu(self.upconv1(feat), 0.1)
            feat = F.leaky_relu(self.upconv2(feat), 0.1)
        if self.head_kind in ("hr", "up64"):
            feat = F.leaky_relu(self.conv_hr(feat), 0.1)
        return self.conv_last(feat)


def check_clip(clip: Tensor) -> None:
    if clip.dim() != 5 or clip.shape[2] != 3:
        raise ValueError(f"expected a clip (N, T, 3, H, W), got {tuple(clip.shape)}")


class BasicVSRUni(HeadMixin, RestorationModel):
    """Uni-directional BasicVSR: ``h_t = R(x_t, warp(h_{t-1}, SPyNet(x_t, x_{t-1})))``,
    ``y_t = x_t + head(h_t)``. State = ``(x_{t-1}, h_{t-1})``, both (N, ·, H, W)."""

    temporal_mode: ClassVar[str] = "recurrent"
    #: channels-last inference: 1.23× faster (mini widths, 96×160, one thread; ``workbench bench format``)
    inference_memory_format: ClassVar[str] = "channels_last"

    def __init__(self, *, num_feat: int = 64, num_block: int = 30, head: Head = "hr") -> None:
        super().__init__()
        self.num_feat = num_feat
        self.spynet = SPyNet()
        self.forward_trunk = ConvResidualBlocks(in_channels=num_feat + 3, out_channels=num_feat,
                                                num_block=num_block)
        self._build_head(head, num_feat)

    def step(
        self, frame: Tensor, state: Any, noise_map: Tensor | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One frame (N, 3, H, W) → (restored (N, 3, H, W), new state); ``state=None`` at t=0."""
        if state is None:
            feat = frame.new_zeros(frame.shape[0], self.num_feat, *frame.shape[2:])
        else:
            prev_frame, prev_feat = state
            feat = flow_warp(prev_feat, self.spynet(frame, prev_frame))
        feat = self.forward_trunk(torch.cat([frame, feat], dim=1))
        return frame + self._head(feat), (frame, feat)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """Clip (N, T, 3, H, W) → restored clip (N, T, 3, H, W) by looping :meth:`step`."""
        check_clip(clip)
        return forward_by_steps(self, clip, noise_map)


class BasicVSRBi(HeadMixin, RestorationModel):
    """Bi-directional BasicVSR: backward and forward recurrences over the clip, features fused by a 1×1
    ``fusion`` conv (LeakyReLU), ``y_t = x_t + head(fused_t)``."""

    temporal_mode: ClassVar[str] = "clip"
    #: channels-last inference: 1.16× faster (mini widths, 96×160, one thread; ``workbench bench format``)
    inference_memory_format: ClassVar[str] = "channels_last"

    def __init__(self, *, num_feat: int = 64, num_block: int = 30, head: Head = "hr") -> None:
        super().__init__()
        self.num_feat = num_feat
        self.spynet = SPyNet()
        self.backward_trunk = ConvResidualBlocks(in_channels=num_feat + 3, out_channels=num_feat,
                                                 num_block=num_block)
        self.forward_trunk = ConvResidualBlocks(in_channels=num_feat + 3, out_channels=num_feat,
                                                num_block=num_block)
        self.fusion = nn.Conv2d(2 * num_feat, num_feat, 1, 1, 0)
        self._build_head(head, num_feat)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """Clip (N, T, 3, H, W) → restored clip (N, T, 3, H, W)."""
        check_clip(clip)
        n, t, c, h, w = clip.shape
        to_next, to_prev = pair_flows(self.spynet, clip)
        feat = clip.new_zeros(n, self.num_feat, h, w)
        backward: list[Tensor] = [feat] * t
        for i in range(t - 1, -1, -1):
            if i < t - 1:
                feat = flow_warp(feat, to_next[:, i])
            feat = self.backward_trunk(torch.cat([clip[:, i], feat], dim=1))
            backward[i] = feat
        feat = torch.zeros_like(feat)
        outs = []
        for i in range(t):
            if i > 0:
                feat = flow_warp(feat, to_prev[:, i - 1])
            feat = self.forward_trunk(torch.cat([clip[:, i], feat], dim=1))
            fused = F.leaky_relu(self.fusion(torch.cat([backward[i], feat], dim=1)), 0.1)
            outs.append(clip[:, i] + self._head(fused))
        return torch.stack(outs, dim=1)


def pair_flows(spynet: nn.Module, clip: Tensor) -> tuple[Tensor, Tensor]:
    """Flows between neighbours of ``clip`` (N, T, 3, H, W), both (N, T-1, 2, H, W) in pixels:
    ``to_next[:, i] = SPyNet(x_i, x_{i+1})`` (used by backward propagation) and
    ``to_prev[:, i] = SPyNet(x_{i+1}, x_i)`` (forward propagation)."""
    n, t, c, h, w = clip.shape
    if t < 2:
        empty = clip.new_zeros(n, 0, 2, h, w)
        return empty, empty
    a = clip[:, :-1].reshape(-1, c, h, w)
    b = clip[:, 1:].reshape(-1, c, h, w)
    to_next = spynet(a, b).view(n, t - 1, 2, h, w)
    to_prev = spynet(b, a).view(n, t - 1, 2, h, w)
    return to_next, to_prev


def build_basicvsr(
    *, direction: Literal["uni", "bi"] = "uni", num_feat: int = 64, num_block: int = 30, head: Head = "hr"
) -> BasicVSRUni | BasicVSRBi:
    """``BasicVSRUni`` (``direction="uni"``) or ``BasicVSRBi`` (``"bi"``)."""
    if direction == "uni":
        return BasicVSRUni(num_feat=num_feat, num_block=num_block, head=head)
    if direction == "bi":
        return BasicVSRBi(num_feat=num_feat, num_block=num_block, head=head)
    raise ValueError(f"direction={direction!r}; expected 'uni' or 'bi'")
