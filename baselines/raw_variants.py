"""Raw variants of the RGB baselines for CRVD (Table 2): packed 4-plane input and output.

The NCFL paper compares FastDVDNet, EDVR, BasicVSR and BasicVSR++ on CRVD raw (Table 2) without saying how
they were adapted. The workbench's adaptation (choices marked *), each network otherwise unchanged:

- frames are packed ``[R, G_r, B, G_b]`` planes, normalised (:mod:`workbench.data.raw`), ``(N, T, 4, H, W)``;
  every layer that reads or writes frame channels takes 4 instead of 3, the residual to the input frame stays;
- motion (SPyNet, ImageNet-normalised RGB) sees the frame as RGB ``(R, (G_r + G_b)/2, B)`` (*, as NCFL's raw
  input does, :meth:`workbench.models.ncfl.model.NCFL.rgb`); flows are in packed pixels;
- FastDVDNet is non-blind: each frame's input group is the frame followed by its noise **variance** map
  ``a_n · clip(x, 0, 1) + b_n`` per plane (*, the map EMVD takes; :func:`workbench.degrade.raw_noise.variance_map`),
  so a group has 8 channels; ``noise_map`` is the ISO's ``[a_n, b_n]`` planes ``(N, 2, H, W)``;
- EDVR, BasicVSR and BasicVSR++ stay blind, as in Table 1 (*).

Parameter names are those of the RGB networks (the first and last convolutions change shape only), so the
RGB code paths, importers and counts are untouched.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.basicvsr import BasicVSRUni, ConvResidualBlocks, Head
from baselines.basicvsrpp import BasicVSRPlusPlusUni
from baselines.edvr import EDVR
from baselines.fastdvdnet import DenoisingBlock, FastDVDNet
from workbench.degrade.raw_noise import variance_map
from workbench.models.base import forward_by_steps
from workbench.models.spynet import SPyNet

RAW_CHANNELS = 4


def raw_to_rgb(frame: Tensor) -> Tensor:
    """Packed ``(N, 4, H, W)`` ``[R, G_r, B, G_b]`` → ``(N, 3, H, W)`` ``(R, (G_r + G_b)/2, B)``."""
    return torch.stack([frame[:, 0], 0.5 * (frame[:, 1] + frame[:, 3]), frame[:, 2]], dim=1)


class RawSPyNet(SPyNet):
    """SPyNet on packed raw frames (same parameters and checkpoint keys as :class:`SPyNet`)."""

    def forward(self, ref: Tensor, supp: Tensor) -> Tensor:
        return super().forward(raw_to_rgb(ref), raw_to_rgb(supp))


def _check_raw(clip: Tensor) -> None:
    if clip.dim() != 5 or clip.shape[2] != RAW_CHANNELS:
        raise ValueError(f"expected a packed raw clip (N, T, 4, H, W), got {tuple(clip.shape)}")


class FastDVDNetRaw(FastDVDNet):
    """FastDVDNet on packed raw with per-frame variance maps (module docstring)."""

    in_channels = RAW_CHANNELS
    noise_map_channels = 2
    caches_frame_features = False  # its stage 1 takes per-frame variance maps, not FastDVDNet's σ map

    def __init__(self, *, base_channels: int = 32, zero_init_output: bool = False) -> None:
        super().__init__(base_channels=base_channels, zero_init_output=zero_init_output)
        self.temp1 = DenoisingBlock(base_channels=base_channels, frame_channels=4, map_channels=4)
        self.temp2 = DenoisingBlock(base_channels=base_channels, frame_channels=4, map_channels=4)
        if zero_init_output:
            self.zero_output_convs()

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """``clip`` (N, 5, 4, H, W), ``noise_map`` (N, 2, H, W) ``[a_n, b_n]`` → centre frame (N, 4, H, W)."""
        _check_raw(clip)
        if noise_map is None or noise_map.shape[1] != 2:
            raise ValueError("FastDVDNetRaw is non-blind: pass noise_map (N, 2, H, W) = [a_n, b_n] planes")
        n, t, c, h, w = clip.shape
        pad_h, pad_w = -h % 4, -w % 4
        x = clip.reshape(n, t * c, h, w)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
            noise_map = F.pad(noise_map, (0, pad_w, 0, pad_h), mode="reflect")
        frames = list(x.split(c, dim=1))
        maps = [variance_map(f, noise_map) for f in frames]
        stage1 = [self.temp1(frames[i : i + 3], maps[i : i + 3]) for i in range(3)]
        out = self.temp2(stage1, [variance_map(f, noise_map) for f in stage1])
        return out[..., :h, :w]


def edvr_raw(**kwargs: Any) -> EDVR:
    """EDVR with 4 input and output channels (every other argument as :class:`~baselines.edvr.EDVR`)."""
    return EDVR(num_in_ch=RAW_CHANNELS, num_out_ch=RAW_CHANNELS, **kwargs)


class BasicVSRUniRaw(BasicVSRUni):
    """Uni-directional BasicVSR on packed raw (module docstring)."""

    in_channels = RAW_CHANNELS

    def __init__(self, *, num_feat: int = 64, num_block: int = 30, head: Head = "hr") -> None:
        super().__init__(num_feat=num_feat, num_block=num_block, head=head)
        self.spynet = RawSPyNet()
        self.forward_trunk = ConvResidualBlocks(in_channels=num_feat + RAW_CHANNELS, out_channels=num_feat,
                                                num_block=num_block)
        self.conv_last = nn.Conv2d(num_feat, RAW_CHANNELS, 3, 1, 1)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        _check_raw(clip)
        return forward_by_steps(self, clip, noise_map)


class BasicVSRPlusPlusUniRaw(BasicVSRPlusPlusUni):
    """Uni-directional BasicVSR++ on packed raw (module docstring)."""

    in_channels = RAW_CHANNELS

    def __init__(self, *, num_feat: int = 64, num_block: int = 7, head: Head = "hr",
                 max_residue_magnitude: float = 10.0, deformable_groups: int = 16) -> None:
        super().__init__(num_feat=num_feat, num_block=num_block, head=head,
                         max_residue_magnitude=max_residue_magnitude, deformable_groups=deformable_groups)
        self.spynet = RawSPyNet()
        self.feat_extract = ConvResidualBlocks(in_channels=RAW_CHANNELS, out_channels=num_feat, num_block=5)
        self.conv_last = nn.Conv2d(num_feat, RAW_CHANNELS, 3, 1, 1)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        _check_raw(clip)
        return forward_by_steps(self, clip, noise_map)


RAW_MODELS: dict[str, Any] = {"fastdvdnet-raw": FastDVDNetRaw, "edvr-raw": edvr_raw,
                              "basicvsr-uni-raw": BasicVSRUniRaw, "basicvsrpp-uni-raw": BasicVSRPlusPlusUniRaw}
