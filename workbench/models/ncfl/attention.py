"""Feature attention (FA), Sec. 4.3 of Huang et al., CVPR 2022.

The paper: "we design an attention module to scale the temporal features to help the feature learning
[...] an auto-encoder-based attention network" (details in the unavailable supplement). Implemented as

``č_t = ĉ_t ⊙ A_t``, ``A_t = sigmoid(D(E([ĉ_t, x_t]))) ∈ (0, 1)^{C_f × H × W}``

with ``E`` = two stride-2 3x3 convs and one 3x3 conv at 1/4 resolution (``channels`` wide) and ``D`` = two
x2 pixel-shuffle up-samplings to ``C_f`` channels at full resolution.

Unstated choices, made here:

- the map is spatial **and** channel-wise (one value per feature element), like the quantization step;
- the input is the aligned features ``ĉ_t`` **and the current frame** ``x_t``: without the frame the module
  cannot tell a badly aligned feature from a good one;
- the last layer is zero-initialised, so ``A_t = 0.5`` everywhere at initialisation.

Shapes: ``features`` ``(N, C_f, H, W)``, ``frame`` ``(N, C, H, W)``; output the scaled features
``(N, C_f, H, W)``; :meth:`FeatureAttention.attention_map` returns ``A_t``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from workbench.models.ncfl.layers import Up2, act, conv3, crop_to, zero_init


class FeatureAttention(nn.Module):
    """Auto-encoder attention producing a (0, 1) map that scales the aligned features."""

    def __init__(self, *, feat_channels: int, frame_channels: int = 3, channels: int = 64) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(conv3(feat_channels + frame_channels, channels, stride=2), act())
        self.enc2 = nn.Sequential(conv3(channels, channels, stride=2), act(),
                                  conv3(channels, channels), act())
        self.dec1 = nn.Sequential(Up2(channels, channels), act())
        self.dec2 = zero_init(Up2(channels, feat_channels))

    def attention_map(self, features: Tensor, frame: Tensor) -> Tensor:
        h1 = self.enc1(torch.cat([features, frame], dim=1))
        h2 = self.enc2(h1)
        d1 = crop_to(self.dec1(h2), h1.shape)
        return torch.sigmoid(crop_to(self.dec2(d1), features.shape))

    def forward(self, features: Tensor, frame: Tensor) -> Tensor:
        return features * self.attention_map(features, frame)
