"""Building blocks shared by the baselines (EDVR, BasicVSR, BasicVSR++).

``ResidualBlockNoBN``: ``x + conv2(relu(conv1(x)))`` with 3×3 convolutions and no normalisation (EDSR
style), initialised Kaiming-normal × 0.1 with zero bias as in BasicSR's ``arch_util``; parameter names
``conv1`` / ``conv2`` follow the BasicSR/MMagic checkpoint layout. Input and output ``(N, C, H, W)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ResidualBlockNoBN(nn.Module):
    """``x + conv2(relu(conv1(x)))`` with 3×3 convolutions; initialised Kaiming-normal × 0.1 (BasicSR)."""

    def __init__(self, *, num_feat: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight)
            with torch.no_grad():
                conv.weight.mul_(0.1)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))
