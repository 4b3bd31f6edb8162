"""MV refinement (MVR), Sec. 4.2 and Fig. 3 of Huang et al., "Neural Compression-Based Feature Learning
for Video Restoration", CVPR 2022.

The paper: "The MV refinement module adopts a lightweight auto-encoder structure. It encodes the corrupted
MV into compact representations and then decodes them to the refined MV" (network details are in the
unavailable supplement). Implemented as

``mv~_t = mv_t + D(E(mv_t [, x_t, x_{t-1}]))``

with ``E`` = two stride-2 3x3 convs (→ 1/4 resolution, ``channels`` wide) and ``D`` = two x2 pixel-shuffle
up-samplings back to full resolution, predicting a **residual** flow.

Unstated choices, made here:

- residual prediction, with the last layer zero-initialised: at initialisation ``mv~_t = mv_t`` exactly, so
  the pre-trained SPyNet flow is the starting point;
- input: the flow only (as the paper's sentence says) by default; ``with_frames=True`` also feeds the two
  frames the flow was estimated from (``2 + 2·C`` input channels);
- the flow is used in pixels as it comes (no normalisation).

Shapes: ``flow`` ``(N, 2, H, W)`` pixels (x, y); frames ``(N, C, H, W)``; output ``(N, 2, H, W)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from workbench.models.ncfl.layers import Up2, act, conv3, crop_to, zero_init


class MVRefine(nn.Module):
    """Light auto-encoder refining an estimated flow (residual). See module docstring."""

    def __init__(self, *, channels: int = 32, with_frames: bool = False, frame_channels: int = 3) -> None:
        super().__init__()
        self.with_frames = with_frames
        cin = 2 + (2 * frame_channels if with_frames else 0)
        self.enc1 = nn.Sequential(conv3(cin, channels, stride=2), act())
        self.enc2 = nn.Sequential(conv3(channels, channels, stride=2), act())
        self.dec1 = nn.Sequential(Up2(channels, channels), act())
        self.dec2 = zero_init(Up2(channels, 2))

    def forward(self, flow: Tensor, frame: Tensor | None = None, prev: Tensor | None = None) -> Tensor:
        x = flow
        if self.with_frames:
            if frame is None or prev is None:
                raise ValueError("MVRefine(with_frames=True) needs the two frames")
            x = torch.cat([flow, frame, prev], dim=1)
        h1 = self.enc1(x)
        h2 = self.enc2(h1)
        d1 = crop_to(self.dec1(h2), h1.shape)
        return flow + crop_to(self.dec2(d1), flow.shape)
