"""EMVD: "Efficient Multi-Stage Video Denoising with Recurrent Spatio-Temporal Fusion" (Maggioni, Huang, Li,
Xiao, Liu, Song; CVPR 2021), for packed raw video (CRVD, Table 2 of the NCFL paper; EMVD-S and EMVD-L).

No official code exists (docs/protocols.md §2.5). The structure follows the paper (Fig. 2–4) and the
unofficial PyTorch re-implementation Baymax-chen/EMVD@975a2f46b2 ``structure.py`` (read, not copied):

- a learnable 4×4 colour transform (1×1 conv, no bias) initialised to
  ``[[.5, .5, .5, .5], [−.5, .5, .5, −.5], [.65, .2784, −.2784, −.65], [−.2784, .65, −.65, .2764]]`` and
  its inverse initialised to the transpose (as EMVDu; not an exact inverse);
- a learnable separable Haar "frequency transform": analysis filters ``[1, 1]/√2``, ``[1, −1]/√2``, synthesis
  ``[1, 1]/√2``, ``[1, −1]/√2`` (learnable, shared by rows and columns), bands ``[LL, HL, LH, HH]`` × 4 colour
  channels = 16 channels at half resolution; applied three times (scales 0, 1, 2; each on the previous LL);
- per scale, coarsest first: **fusion** ``γ = σ(CNN([|LL_t − LL_{t−1}|, (γ↑), σ²_t]))`` (one channel),
  ``fused = (1 − γ) · F_{t−1} + γ · F_t``, fused variance ``(1 − γ)² σ²_{t−1} + γ² σ²_t``; **denoising**
  ``D = CNN([fused, (inverse transform of the coarser D), LL_t, σ²])`` (16 channels out);
- **refinement** at scale 0: ``ω = σ(CNN([fused, D, σ²]))``, output ``(1 − ω) · D + ω · fused`` → inverse
  transforms → packed raw. The recurrent state is the fused frame ``F_t`` (inverse-transformed), as EMVDu's
  inference feeds the previous ``fusion_out``; at ``t = 0`` the previous frame is the noisy frame itself.
- noise variance ``σ² = a_n · clip(LL_0, 0, 1) + b_n`` on the first channel of the LL band, with ``(a_n, b_n)``
  from the noise map (the ISO's parameters, :func:`workbench.degrade.raw_noise.params_map`).

Every CNN is ``conv3(in → c)``, ReLU, ``feat_layers − 1`` × [``conv3(c → c)``, ReLU], ``conv3(c → out)``.
**EMVD-S** = the paper's base model: ``channels=16, feat_layers=2`` (41,356 parameters, EMVDu's count); with EMVDu's
weights (:func:`state_from_unofficial`) it reproduces EMVDu's ``MainDenoise`` to 3.0e-7 (tests/data_parity/README.md).
**EMVD-L**: its configuration is only in the EMVD supplement (not available, docs/complexity.md §4); the
workbench's choice is ``channels=176, feat_layers=5``, the width/depth of this topology whose cost is
closest to the 1106 GFLOPs Table 1 reports: 1095.6 GFLOPs (2 × thop-style MACs per 540×960 packed frame,
counted at 544×960; 8.09 M parameters). Other points of the sweep: 192/4 985.8, 200/4 1067.8, 160/6 1126.9,
256/3 1174.8. EMVD-S counts 5.88 GFLOPs (the paper's Table 1: 5).

Input ``(N, T, 4, H, W)`` normalised packed raw (``[R, G_r, B, G_b]``), H and W multiples of 8 (inference pads,
``size_multiple``); ``noise_map`` ``(N, 2, H, W)`` planes ``[a_n, b_n]``. Output not clamped.
Uni-directional recurrent (``temporal_mode = "recurrent"``).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.models.base import RestorationModel, forward_by_steps

CFA = ((0.5, 0.5, 0.5, 0.5), (-0.5, 0.5, 0.5, -0.5), (0.65, 0.2784, -0.2784, -0.65), (-0.2784, 0.65, -0.65, 0.2764))
SCALES = 3


def _cnn(cin: int, cout: int, channels: int, feat_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, channels, 3, 1, 1), nn.ReLU()]
    for _ in range(feat_layers - 1):
        layers += [nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU()]
    layers.append(nn.Conv2d(channels, cout, 3, 1, 1))
    return nn.Sequential(*layers)


class Haar(nn.Module):
    """Learnable separable 2-tap wavelet: ``(N, C, H, W)`` ↔ ``(N, 4C, H/2, W/2)`` bands ``[LL, HL, LH, HH]``
    (each a block of C channels; first index = row filter, second = column filter)."""

    def __init__(self) -> None:
        super().__init__()
        s = 1.0 / math.sqrt(2.0)
        self.analysis = nn.Parameter(torch.tensor([[s, s], [s, -s]]))
        self.synthesis = nn.Parameter(torch.tensor([[s, s], [s, -s]]))

    @staticmethod
    def _kernels(f: Tensor) -> Tensor:
        # band (i, j): column filter j along rows (dy), row filter i along columns (dx)
        return torch.stack([torch.outer(f[j], f[i]) for i in range(2) for j in range(2)]).unsqueeze(1)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        y = F.conv2d(x.reshape(n * c, 1, h, w), self._kernels(self.analysis), stride=2)
        return y.reshape(n, c, 4, h // 2, w // 2).transpose(1, 2).reshape(n, 4 * c, h // 2, w // 2)

    def inverse(self, y: Tensor) -> Tensor:
        n, c4, h, w = y.shape
        c = c4 // 4
        z = y.reshape(n, 4, c, h, w).transpose(1, 2).reshape(n * c, 4, h, w)
        return F.conv_transpose2d(z, self._kernels(self.synthesis), stride=2).reshape(n, c, 2 * h, 2 * w)


class EMVD(RestorationModel):
    """EMVD (module docstring); ``channels``/``feat_layers`` select S (16/2) or L (176/5)."""

    temporal_mode: ClassVar[str] = "recurrent"
    uses_noise_map: ClassVar[bool] = True
    size_multiple = 2**SCALES
    in_channels = 4
    noise_map_channels = 2

    def __init__(self, *, channels: int = 16, feat_layers: int = 2) -> None:
        super().__init__()
        self.ct = nn.Conv2d(4, 4, 1, bias=False)
        self.cti = nn.Conv2d(4, 4, 1, bias=False)
        cfa = torch.tensor(CFA).view(4, 4, 1, 1)
        with torch.no_grad():
            self.ct.weight.copy_(cfa)
            self.cti.weight.copy_(cfa.transpose(0, 1))
        self.haar = Haar()
        self.fusion = nn.ModuleList([_cnn(5, 1, channels, feat_layers)] +
                                    [_cnn(6, 1, channels, feat_layers) for _ in range(SCALES - 1)])
        self.denoise = nn.ModuleList([_cnn(21, 16, channels, feat_layers)] +
                                     [_cnn(25, 16, channels, feat_layers) for _ in range(SCALES - 1)])
        self.refine = _cnn(33, 1, channels, feat_layers)

    def _pyramid(self, x: Tensor) -> list[Tensor]:
        """Bands at scales 0 (H/2), 1 (H/4), 2 (H/8), each ``(N, 16, ·, ·)``."""
        bands = [self.haar(self.ct(x))]
        for _ in range(SCALES - 1):
            bands.append(self.haar(bands[-1][:, :4]))
        return bands

    def _inverse(self, bands: Tensor) -> Tensor:
        return self.cti(self.haar.inverse(bands))

    def step(self, frame: Tensor, state: Tensor | None, noise_map: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``frame`` (N, 4, H, W), ``state`` = previous fused frame (N, 4, H, W) or None → (output, state)."""
        if noise_map is None:
            raise ValueError("EMVD is non-blind: pass noise_map (N, 2, H, W) = [a_n, b_n] planes")
        a = noise_map[:, :1].mean(dim=(-2, -1), keepdim=True)
        b = noise_map[:, 1:2].mean(dim=(-2, -1), keepdim=True)
        prev = frame if state is None else state
        cur_b, prev_b = self._pyramid(frame), self._pyramid(prev)
        gamma_up: Tensor | None = None
        d_up: Tensor | None = None
        fused = denoised = var = frame
        for k, s in enumerate(reversed(range(SCALES))):
            f0, f1 = prev_b[s], cur_b[s]
            ll0, ll1 = f0[:, :4], f1[:, :4]
            var1 = ll1[:, :1].clamp(0, 1) * a + b
            extra = [] if gamma_up is None else [gamma_up]
            gamma = torch.sigmoid(self.fusion[k](torch.cat([(ll1 - ll0).abs(), *extra, var1], dim=1)))
            fused = f0 * (1 - gamma) + f1 * gamma
            var0 = ll0[:, :1].clamp(0, 1) * a + b
            var = (1 - gamma) ** 2 * var0 + gamma**2 * var1
            coarser = [] if d_up is None else [d_up]
            denoised = self.denoise[k](torch.cat([fused, *coarser, ll1, var], dim=1))
            if s > 0:
                d_up = self.haar.inverse(denoised)
                gamma_up = F.interpolate(gamma, scale_factor=2.0, mode="nearest")
        omega = torch.sigmoid(self.refine(torch.cat([fused, denoised, var], dim=1)))
        out = self._inverse(denoised * (1 - omega) + fused * omega)
        return out, self._inverse(fused)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """Clip (N, T, 4, H, W) → (N, T, 4, H, W) by looping :meth:`step`."""
        return forward_by_steps(self, clip, noise_map)


#: unofficial EMVD (Baymax-chen/EMVD ``MainDenoise``) stage → this module's per-scale index (coarsest first)
UNOFFICIAL_STAGES = {"vd": 0, "md1": 1, "md0": 2}


def state_from_unofficial(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A ``MainDenoise`` state dict of the unofficial re-implementation → :class:`EMVD` keys (explicit mapping:
    ``ct/cti.net1`` → ``ct/cti``; ``ft.net1`` (2, 1, 1, 2) → ``haar.analysis``; ``fti.net1``/``net2`` → the rows of
    ``haar.synthesis``; ``<stage>.{fusion,denoise}.net{1,2,3}`` → ``{fusion,denoise}.<scale>.{0,2,4}``;
    ``refine.net{1,2,3}`` → ``refine.{0,2,4}``). Only the base configuration (16 channels, 2 layers) exists there."""
    out = {"ct.weight": state["ct.net1.weight"], "cti.weight": state["cti.net1.weight"],
           "haar.analysis": state["ft.net1.weight"].reshape(2, 2),
           "haar.synthesis": torch.stack([state["fti.net1.weight"].flatten(), state["fti.net2.weight"].flatten()])}
    layer = {"net1": "0", "net2": "2", "net3": "4"}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] in UNOFFICIAL_STAGES and parts[1] in ("fusion", "denoise"):
            out[f"{parts[1]}.{UNOFFICIAL_STAGES[parts[0]]}.{layer[parts[2]]}.{parts[3]}"] = value
        elif parts[0] == "refine":
            out[f"refine.{layer[parts[1]]}.{parts[2]}"] = value
    return out


def emvd_s() -> EMVD:
    """EMVD-S: the base model of the EMVD paper (16 channels, 2 feature layers per CNN)."""
    return EMVD(channels=16, feat_layers=2)


def emvd_l() -> EMVD:
    """EMVD-L: the workbench's reconstruction (176 channels, 5 feature layers; module docstring)."""
    return EMVD(channels=176, feat_layers=5)


__all__ = ["EMVD", "Haar", "emvd_l", "emvd_s"]
