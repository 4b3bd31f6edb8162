"""FastDVDNet: real-time deep video denoising without flow estimation.

Paper: M. Tassano, J. Delon, T. Veit, "FastDVDnet: Towards Real-Time Deep Video Denoising Without Flow
Estimation", CVPR 2020 (Fig. 1 and Fig. 2: a two-stage cascade of U-Net "denoising blocks").
Official repository read for the architecture and the checkpoint key layout:
https://github.com/m-tassano/fastdvdnet, commit c8fdf6182a0340e89dd18f5df25b47337cbede6f (models.py,
fastdvdnet.py). The code here is written for the workbench; only the parameter names follow the official
checkpoint, so ``model.pth`` (saved from ``nn.DataParallel``) loads with :func:`load_official_fastdvdnet`.

Architecture (2,479,096 parameters, the same as the official network):

- stage 1: one denoising block ``temp1`` applied, with shared weights, to the frame triplets
  (0,1,2), (1,2,3), (2,3,4) of the 5-frame window;
- stage 2: a second block ``temp2`` applied to the three stage-1 outputs.

Each block receives three RGB frames, each followed by the noise map (12 channels), runs a grouped input
convolution (one group per frame, 30 channels each), a two-scale U-Net with 32/64/128 channels
(stride-2 convolutions down, PixelShuffle up, additive skips), Conv+BN+ReLU everywhere, and predicts the
noise as a residual: ``out = middle_frame - block(...)``.

Conventions: ``clip`` is ``(N, 5, 3, H, W)`` float32 in ``[0, 1]``; ``noise_map`` is ``(N, 1, H, W)``
with σ/255 (AWGN standard deviation on the [0, 1] scale). The output is the restored **centre** frame
``(N, 3, H, W)``; it is **not clamped** here (the evaluator clamps to ``[0, 1]``, as the official test
script does after the network). Frames whose height or width is not a multiple of 4 are reflect-padded
at the bottom/right to the next multiple of 4 inside :meth:`FastDVDNet.forward` (as the official
``temp_denoise`` does) and cropped back.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.checkpoint import load_strict, read_state_dict, strip_prefix
from workbench.models.base import RestorationModel

#: channels per frame inside the grouped input convolution of a denoising block
_INTERM_PER_FRAME = 30


def _cbr(cin: int, cout: int, *, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    """3x3 conv (no bias) → BatchNorm → ReLU."""
    return [
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class _Stage(nn.Module):
    """A sequence of layers stored under ``convblock`` (the official checkpoint's attribute name)."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.convblock = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.convblock(x)


def _double_cbr(ch: int) -> _Stage:
    return _Stage(_cbr(ch, ch) + _cbr(ch, ch))


def _up_stage(cin: int, cout: int) -> _Stage:
    """Two Conv+BN+ReLU, then a conv to ``4 * cout`` channels and PixelShuffle(2) (sub-pixel upsampling)."""
    return _Stage([_double_cbr(cin), nn.Conv2d(cin, 4 * cout, 3, padding=1, bias=False), nn.PixelShuffle(2)])


class DenoisingBlock(nn.Module):
    """One U-Net denoising block (paper Fig. 2, right): three frames + noise map → middle frame.

    Inputs are ``(N, 3, H, W)`` frames and a ``(N, 1, H, W)`` noise map, ``H`` and ``W`` multiples of 4.
    """

    def __init__(self, *, frames: int = 3, base_channels: int = 32, frame_channels: int = 3,
                 map_channels: int = 1) -> None:
        """``frame_channels`` (3 RGB, 4 packed raw) and ``map_channels`` (1: σ; 4: raw variance per plane)
        set each input group's width ``frame_channels + map_channels`` and the output's channels."""
        super().__init__()
        c0, c1, c2 = base_channels, 2 * base_channels, 4 * base_channels
        mid = frames * _INTERM_PER_FRAME
        self.inc = _Stage(_cbr(frames * (frame_channels + map_channels), mid, groups=frames) + _cbr(mid, c0))
        self.downc0 = _Stage(_cbr(c0, c1, stride=2) + [_double_cbr(c1)])
        self.downc1 = _Stage(_cbr(c1, c2, stride=2) + [_double_cbr(c2)])
        self.upc2 = _up_stage(c2, c1)
        self.upc1 = _up_stage(c1, c0)
        self.outc = _Stage(_cbr(c0, c0) + [nn.Conv2d(c0, frame_channels, 3, padding=1, bias=False)])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, frames: list[Tensor], noise_map: Tensor | list[Tensor]) -> Tensor:
        """``noise_map``: one map for every frame, or one per frame (the raw variant's variance maps)."""
        # every frame is followed by its noise map, so each input group sees (R, G, B, σ)
        maps = noise_map if isinstance(noise_map, list) else [noise_map] * len(frames)
        x = torch.cat([t for f, m in zip(frames, maps, strict=True) for t in (f, m)], dim=1)
        s0 = self.inc(x)
        s1 = self.downc0(s0)
        up = self.upc2(self.downc1(s1))
        up = self.upc1(s1 + up)
        noise = self.outc(s0 + up)
        return frames[len(frames) // 2] - noise


class FastDVDNet(RestorationModel):
    """FastDVDNet (Tassano et al., CVPR 2020): 5-frame window, non-blind (uses the noise map)."""

    temporal_mode = "window"
    #: channels-last inference: 1.83× faster per 96×160 frame at 16 base channels, one thread (measured by
    #: ``workbench bench format``; docs/protocols.md §7)
    inference_memory_format: ClassVar[str] = "channels_last"
    window = 5
    uses_noise_map = True
    in_channels = 3
    caches_frame_features = True
    feature_span = 3

    def __init__(self, *, base_channels: int = 32, zero_init_output: bool = False) -> None:
        """``base_channels``: width of each denoising block's first scale (32 in the paper and the official
        checkpoint; the mini profile uses 16, a quarter of the parameters). ``zero_init_output``: the last
        convolution of both blocks starts at zero, so the untrained model returns its middle input frame
        (the official initialisation, kept by default, starts every convolution Kaiming-normal: the first
        steps then undo a residual several times the noise; see ``docs/protocols.md`` §7)."""
        super().__init__()
        self.temp1 = DenoisingBlock(base_channels=base_channels)
        self.temp2 = DenoisingBlock(base_channels=base_channels)
        if zero_init_output:
            self.zero_output_convs()

    def zero_output_convs(self) -> None:
        """Set the last convolution of both denoising blocks to zero (``zero_init_output``)."""
        for block in (self.temp1, self.temp2):
            last = block.outc.convblock[-1]
            assert isinstance(last, nn.Conv2d)
            nn.init.zeros_(last.weight)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """``clip`` (N, 5, 3, H, W) in [0, 1], ``noise_map`` (N, 1, H, W) σ/255 → centre frame (N, 3, H, W).

        Not clamped. Any H, W ≥ 4 (reflect padding to a multiple of 4, cropped back)."""
        if clip.dim() != 5 or clip.shape[1] != self.window or clip.shape[2] != 3:
            raise ValueError(f"FastDVDNet expects a clip (N, 5, 3, H, W), got {tuple(clip.shape)}")
        if noise_map is None:
            raise ValueError("FastDVDNet is non-blind: pass noise_map (N, 1, H, W) = sigma/255")
        n, t, c, h, w = clip.shape
        if noise_map.shape != (n, 1, h, w):
            raise ValueError(f"noise_map must be {(n, 1, h, w)}, got {tuple(noise_map.shape)}")
        frames, noise_map = self._padded(clip, noise_map)
        stage1 = [self.temp1(frames[i : i + 3], noise_map) for i in range(3)]
        out = self.temp2(stage1, noise_map)
        return out[..., :h, :w]

    @staticmethod
    def _padded(clip: Tensor, noise_map: Tensor) -> tuple[list[Tensor], Tensor]:
        """The frames of ``clip (N, T, 3, H, W)`` and the noise map, reflect-padded to a multiple of 4."""
        n, t, c, h, w = clip.shape
        pad_h, pad_w = -h % 4, -w % 4
        x = clip.reshape(n, t * c, h, w)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
            noise_map = F.pad(noise_map, (0, pad_w, 0, pad_h), mode="reflect")
        return list(x.split(c, dim=1)), noise_map

    def frame_features(self, frames: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """Stage 1 on one triplet ``frames (N, 3, 3, H, W)`` (``feature_span`` 3) → ``(N, 3, H', W')``
        padded to a multiple of 4: what :meth:`forward` computes three times per window, once per
        triplet, and streaming inference once per triplet of the sequence."""
        if noise_map is None:
            raise ValueError("FastDVDNet is non-blind: pass noise_map (N, 1, H, W) = sigma/255")
        triplet, noise_map = self._padded(frames, noise_map)
        return self.temp1(triplet, noise_map)

    def from_frame_features(self, feats: list[Any], clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """Stage 2 on the three triplets' :meth:`frame_features` → :meth:`forward` ``(clip, noise_map)``."""
        if len(feats) != 3 or noise_map is None:
            raise ValueError("FastDVDNet needs its 3 triplet features and the noise map")
        _, padded_map = self._padded(clip[:, :1], noise_map)
        return self.temp2(list(feats), padded_map)[..., : clip.shape[-2], : clip.shape[-1]]


def load_official_fastdvdnet(path: str | os.PathLike[str]) -> FastDVDNet:
    """Build a :class:`FastDVDNet` with the weights of an official checkpoint (e.g. ``model.pth``).

    The file is read weights-only; the ``nn.DataParallel`` prefix ``module.`` is removed. A BatchNorm
    ``num_batches_tracked`` counter absent from an old file is set to 0 (it is unused at inference).
    Any other missing, unexpected or mis-shaped key raises :class:`CheckpointError`."""
    state = strip_prefix(read_state_dict(path, inner_keys=("state_dict",)), "module.")
    model = FastDVDNet()
    for key in model.state_dict():
        if (
            key.endswith("num_batches_tracked")
            and key not in state
            and key.replace("num_batches_tracked", "running_mean") in state
        ):
            state[key] = torch.tensor(0, dtype=torch.long)
    load_strict(model, state, source=str(path))
    model.eval()
    return model


__all__ = ["DenoisingBlock", "FastDVDNet", "load_official_fastdvdnet"]
