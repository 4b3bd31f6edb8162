"""Feature alignment and refinement of one propagation direction: Secs. 4.2–4.3, Fig. 3 of Huang et al.,
CVPR 2022.

Given the current frame ``x_t``, the neighbour it propagates from ``x_s`` (``s = t−1`` forward,
``t+1`` backward), the flow ``mv_t`` estimated by SPyNet with ``flow_warp(x_s, mv_t) ≈ x_t`` and the
neighbour's temporal features ``c_s``:

1. MV refinement ``mv~_t = MVR(mv_t)`` (switch ``mvr``);
2. bilinear warping ``ĉ_t = flow_warp(c_s, mv~_t)`` (zeros outside the frame);
3. feature attention ``č_t = ĉ_t ⊙ A_t`` (switch ``fa``; without it ``č_t = ĉ_t``);
4. neural compression ``c~_t = Decoder(Q(Encoder(č_t)))`` (switch ``ncfl``: ``"off"`` → ``c~_t = č_t``,
   ``"noq"`` → plain auto-encoder, ``"fixedq"`` → constant step, ``"adapq"`` → the paper's AdapQ).

Returns ``(c~_t, bits, stats)`` with ``bits`` the total rate of the batch (``None`` when no rate is
defined: ``ncfl`` ``"off"``/``"noq"`` or ``ce=False``) and ``stats`` the compression module's detached
diagnostics (:attr:`~workbench.models.ncfl.compression.CompressionOutput.stats`; empty without a quantizer).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from workbench.models.ncfl.attention import FeatureAttention
from workbench.models.ncfl.compression import NeuralCompression, QuantKind, QuantProxy
from workbench.models.ncfl.mvr import MVRefine
from workbench.models.warp import flow_warp

NCFLMode = Literal["off", "noq", "fixedq", "adapq"]
NCFL_MODES: dict[str, QuantKind | None] = {"off": None, "noq": "none", "fixedq": "fixed", "adapq": "adaptive"}


class FeatureRefiner(nn.Module):
    """MVR → warp → FA → compression for one direction. Modules that are switched off do not exist."""

    def __init__(
        self,
        *,
        frame_channels: int,
        feat_channels: int,
        mvr: bool,
        mvr_channels: int,
        mvr_with_frames: bool,
        fa: bool,
        fa_channels: int,
        ncfl: NCFLMode,
        codec_channels: int,
        latent_channels: int,
        hyper_channels: int,
        fixed_step: float,
        quant_proxy: QuantProxy,
        ce: bool,
    ) -> None:
        super().__init__()
        if ncfl not in NCFL_MODES:
            raise ValueError(f"ncfl={ncfl!r}; use one of {tuple(NCFL_MODES)}")
        self.mvr = (MVRefine(channels=mvr_channels, with_frames=mvr_with_frames,
                             frame_channels=frame_channels) if mvr else None)
        self.fa = (FeatureAttention(feat_channels=feat_channels, frame_channels=frame_channels,
                                    channels=fa_channels) if fa else None)
        quant = NCFL_MODES[ncfl]
        self.compression = None if quant is None else NeuralCompression(
            feat_channels=feat_channels, frame_channels=frame_channels, channels=codec_channels,
            latent_channels=latent_channels, hyper_channels=hyper_channels, quant=quant, proxy=quant_proxy,
            fixed_step=fixed_step, ce=ce,
        )

    def forward(
        self, frame: Tensor, neighbour: Tensor, features: Tensor, flow: Tensor
    ) -> tuple[Tensor, Tensor | None, dict[str, Tensor]]:
        if self.mvr is not None:
            flow = self.mvr(flow, frame, neighbour)
        aligned = flow_warp(features, flow)
        if self.fa is not None:
            aligned = self.fa(aligned, frame)
        if self.compression is None:
            return aligned, None, {}
        out = self.compression(aligned, frame)
        return out.features, out.bits, out.stats
