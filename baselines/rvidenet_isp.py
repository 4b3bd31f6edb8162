"""RViDeNet's ISP network: the raw → sRGB U-Net its test script scores sRGB PSNR/SSIM through
(cao-cong/RViDeNet@4615032b01 ``models.py`` class ``ISP``, weights ``isp/ISP_CNN.pth``, trained on 230
SID-Sony raw/sRGB pairs; RViDeNet issue #1). Written for the workbench; parameter names follow the official
module (``conv1_1`` … ``conv6_1``, ``upv4``, ``upv5``).

Input: packed raw ``(N, 4, H, W)`` in RViDeNet's plane order ``[R, G_r, B, G_b]`` (the workbench's ``RGBG``),
normalised, H and W multiples of 4; output sRGB ``(N, 3, 2H, 2W)`` (pixel shuffle of 12 channels), not clamped.
LeakyReLU 0.2 written ``max(0.2x, x)`` as the original.

Weights: the official ``ISP_CNN.pth`` is a pickled module (``torch.save(model)``), which the workbench never
unpickles (checkpoints load weights-only; unpickling a module runs code). Convert it once, inside a RViDeNet
checkout whose code you trust: load the module there with that repository's own code, save its
``state_dict()`` with ``torch.save`` as ``ISP_CNN_state.pth``, and place the result at
``<data root>/weights/rvidenet/ISP_CNN_state.pth`` (:func:`load_rvidenet_isp` reads it weights-only, strictly).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.checkpoint import load_strict, read_state_dict, strip_prefix


class ISPNet(nn.Module):
    """The official ISP U-Net (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1_1, self.conv1_2 = nn.Conv2d(4, 32, 3, 1, 1), nn.Conv2d(32, 32, 3, 1, 1)
        self.conv2_1, self.conv2_2 = nn.Conv2d(32, 64, 3, 1, 1), nn.Conv2d(64, 64, 3, 1, 1)
        self.conv3_1, self.conv3_2 = nn.Conv2d(64, 128, 3, 1, 1), nn.Conv2d(128, 128, 3, 1, 1)
        self.upv4 = nn.ConvTranspose2d(128, 64, 2, stride=2)
        self.conv4_1, self.conv4_2 = nn.Conv2d(128, 64, 3, 1, 1), nn.Conv2d(64, 64, 3, 1, 1)
        self.upv5 = nn.ConvTranspose2d(64, 32, 2, stride=2)
        self.conv5_1, self.conv5_2 = nn.Conv2d(64, 32, 3, 1, 1), nn.Conv2d(32, 32, 3, 1, 1)
        self.conv6_1 = nn.Conv2d(32, 12, 1)

    @staticmethod
    def _act(x: Tensor) -> Tensor:
        return torch.max(0.2 * x, x)

    def forward(self, x: Tensor) -> Tensor:
        a = self._act
        c1 = a(self.conv1_2(a(self.conv1_1(x))))
        c2 = a(self.conv2_2(a(self.conv2_1(F.max_pool2d(c1, 2)))))
        c3 = a(self.conv3_2(a(self.conv3_1(F.max_pool2d(c2, 2)))))
        c4 = a(self.conv4_2(a(self.conv4_1(torch.cat([self.upv4(c3), c2], dim=1)))))
        c5 = a(self.conv5_2(a(self.conv5_1(torch.cat([self.upv5(c4), c1], dim=1)))))
        return F.pixel_shuffle(self.conv6_1(c5), 2)


def load_rvidenet_isp(path: str | os.PathLike[str]) -> ISPNet:
    """:class:`ISPNet` with the converted official weights (a state dict, ``module.`` prefix allowed)."""
    model = ISPNet()
    load_strict(model, strip_prefix(read_state_dict(path, inner_keys=("state_dict",)), "module."), source=str(path))
    return model.eval()


__all__ = ["ISPNet", "load_rvidenet_isp"]
