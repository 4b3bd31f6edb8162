"""Neural compression module of NCFL: eqs. 1–5 of Huang et al., CVPR 2022 (Sec. 4.3, Figs. 5 and 9).

``e_t = Encoder(č_t)`` (eq. 1), ``ê_t = round((e_t − μ_t)/q_t)·q_t + μ_t`` (eq. 2),
``c~_t = Decoder(ê_t)`` (eq. 3), rate ``Σ −log2 P(ê_t)`` (eq. 4) with the Laplace bin mass of eq. 5.

Structure (widths are constructor arguments; every stride-2 layer halves the side, rounding up):

- Encoder: conv3 s2 ``C_f→M``, GDN, conv3 s2 ``M→M``, GDN, conv3 ``M→L``: latent ``e`` at 1/4 side;
- Decoder: x2 up ``L→M``, inverse GDN, x2 up ``M→C_f``, cropped to the input size;
- prior model (``quant != "none"``): predicts ``μ``, ``σ > 0`` and (``"adaptive"``) ``q > 0`` for **every
  latent element** (spatial-channel-wise) from two contexts, concatenated and mapped by
  conv3 ``(H + M)→M``, LeakyReLU, conv3 ``M→k·L`` (``k = 3`` adaptive, ``2`` fixed):

  * a hyper-prior (Ballé et al. 2018, ref. [4]): ``z = h_a(e)`` (conv3 s2 ``L→H``, LeakyReLU, conv3 s2
    ``H→H``), quantized with unit step around a learned per-channel centre, coded with a learned
    per-channel Laplace (a factorised model; its bits are part of the rate), decoded by ``h_s`` (two x2 ups);
  * the **current frame** ``x_t`` (conv3 s2 ``C→M``, LeakyReLU, conv3 s2 ``M→M``, LeakyReLU). This is the
    decoder-side context of conditional coding (DCVC, ref. [17], by the same group, uses its temporal
    context the same way): content of the temporal features that the current frame predicts is cheap,
    the noise of the previous frames, independent of ``x_t``'s noise, is not — and is what the rate
    term teaches the module to drop. The prior never sees ``e`` itself (it could then predict ``μ = e``
    and the rate would vanish without any quantization loss).

  Positivity: ``σ = σ_min + softplus(·)``, ``q = q_min + softplus(·)`` with ``σ_min = 0.11`` (the usual
  scale bound of learned codecs) and ``q_min = 0.01``; both are offset so that they start at 1.

Modes:

- ``quant="adaptive"`` (AdapQ, the paper's): ``μ, σ, q`` predicted;
- ``quant="fixed"`` (FixedQ): ``q`` is the constant buffer ``fixed_step`` (default 1, as in neural codecs),
  the prior predicts ``μ, σ`` only (no ``q`` output channels);
- ``quant="none"`` (NoQ): a plain auto-encoder — encoder and decoder only; no quantizer, no prior, no rate.

``ce=False`` (Table 7, M2 "w/o CE") keeps exactly the same modules and quantization (``μ`` and ``q`` are
still predicted and used by eq. 2) but does not evaluate eqs. 4–5: :attr:`CompressionOutput.bits` is
``None``, so no rate term exists and ``σ`` (and the hyper-latent's density) receive no gradient.

Quantization proxy in training mode: ``proxy`` (``"ste"`` or ``"noise"``, see
:mod:`~workbench.models.ncfl.quantization`); in eval mode always hard rounding. Bits are summed over the
batch (divide by ``N·H·W`` for bits per pixel).

Shapes: ``features`` ``(N, C_f, H, W)``, ``frame`` ``(N, C, H, W)``; output features ``(N, C_f, H, W)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.models.gdn import GDN
from workbench.models.ncfl.entropy import bits, likelihood
from workbench.models.ncfl.layers import Up2, act, conv3, crop_to
from workbench.models.ncfl.quantization import QuantMode, quantize

QuantKind = Literal["adaptive", "fixed", "none"]
QUANT_KINDS: tuple[str, ...] = ("adaptive", "fixed", "none")
QuantProxy = Literal["ste", "noise"]
SCALE_MIN = 0.11
STEP_MIN = 0.01


def _softplus_offset(target: float, floor: float) -> float:
    """``c`` with ``floor + softplus(c) = target``."""
    return math.log(math.expm1(target - floor))


@dataclass
class CompressionOutput:
    """``features`` = c~_t; ``bits`` scalar (ê and ẑ, whole batch) or ``None`` when no rate is defined;
    ``latent`` = ê_t (e_t for NoQ); ``mu``/``scale``/``step`` the prior's outputs (``None`` for NoQ)."""

    features: Tensor
    bits: Tensor | None
    latent: Tensor
    mu: Tensor | None = None
    scale: Tensor | None = None
    step: Tensor | None = None


class HyperPrior(nn.Module):
    """``z = h_a(e)``, unit-step quantization, factorised per-channel Laplace, ``h_s(ẑ)``."""

    def __init__(self, *, latent_channels: int, channels: int) -> None:
        super().__init__()
        self.analysis = nn.Sequential(conv3(latent_channels, channels, stride=2), act(),
                                      conv3(channels, channels, stride=2))
        self.synthesis = nn.Sequential(Up2(channels, channels), act(), Up2(channels, channels), act())
        self.z_mu = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.z_scale_raw = nn.Parameter(torch.full((1, channels, 1, 1), _softplus_offset(1.0, SCALE_MIN)))

    def forward(self, e: Tensor, mode: QuantMode, with_rate: bool) -> tuple[Tensor, Tensor | None]:
        z = self.analysis(e)
        z_hat = quantize(z, self.z_mu, 1.0, mode=mode)
        rate = None
        if with_rate:
            scale = SCALE_MIN + F.softplus(self.z_scale_raw)
            rate = bits(likelihood(z_hat, self.z_mu.expand_as(z_hat), scale.expand_as(z_hat), 1.0))
        return crop_to(self.synthesis(z_hat), e.shape), rate


class NeuralCompression(nn.Module):
    """Feature encoder → (adaptive) quantizer with prior → decoder. See module docstring."""

    fixed_step: Tensor

    def __init__(
        self,
        *,
        feat_channels: int,
        frame_channels: int = 3,
        channels: int = 64,
        latent_channels: int = 64,
        hyper_channels: int = 32,
        quant: QuantKind = "adaptive",
        proxy: QuantProxy = "ste",
        fixed_step: float = 1.0,
        ce: bool = True,
    ) -> None:
        super().__init__()
        if quant not in QUANT_KINDS:
            raise ValueError(f"quant={quant!r}; use one of {QUANT_KINDS}")
        if proxy not in ("ste", "noise"):
            raise ValueError(f"proxy={proxy!r}; use 'ste' or 'noise'")
        self.quant, self.proxy, self.ce = quant, proxy, ce and quant != "none"
        self.latent_channels = latent_channels
        self.encoder = nn.Sequential(
            conv3(feat_channels, channels, stride=2), GDN(channels=channels),
            conv3(channels, channels, stride=2), GDN(channels=channels),
            conv3(channels, latent_channels),
        )
        self.decoder = nn.Sequential(
            Up2(latent_channels, channels), GDN(channels=channels, inverse=True),
            Up2(channels, feat_channels),
        )
        if quant == "none":
            return
        self.hyper = HyperPrior(latent_channels=latent_channels, channels=hyper_channels)
        self.frame_context = nn.Sequential(conv3(frame_channels, channels, stride=2), act(),
                                           conv3(channels, channels, stride=2), act())
        k = 3 if quant == "adaptive" else 2
        self.prior = nn.Sequential(conv3(hyper_channels + channels, channels), act(),
                                   conv3(channels, k * latent_channels))
        if quant == "fixed":
            self.register_buffer("fixed_step", torch.tensor(float(fixed_step)))

    def _mode(self) -> QuantMode:
        return self.proxy if self.training else "round"

    def prior_parameters(self, hyper_features: Tensor, frame_ctx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(μ, σ, q)`` maps ``(N, L, h, w)`` from the two contexts (``q`` broadcast for FixedQ)."""
        out = self.prior(torch.cat([hyper_features, frame_ctx], dim=1))
        lc = self.latent_channels
        mu = out[:, :lc]
        scale = SCALE_MIN + F.softplus(out[:, lc : 2 * lc] + _softplus_offset(1.0, SCALE_MIN))
        if self.quant == "adaptive":
            step = STEP_MIN + F.softplus(out[:, 2 * lc :] + _softplus_offset(1.0, STEP_MIN))
        else:
            step = self.fixed_step.expand_as(mu)
        return mu, scale, step

    def forward(self, features: Tensor, frame: Tensor) -> CompressionOutput:
        e = self.encoder(features)
        if self.quant == "none":
            return CompressionOutput(crop_to(self.decoder(e), features.shape), None, e)
        mode = self._mode()
        hyper_features, z_bits = self.hyper(e, mode, self.ce)
        frame_ctx = crop_to(self.frame_context(frame), e.shape)
        mu, scale, step = self.prior_parameters(hyper_features, frame_ctx)
        e_hat = quantize(e, mu, step, mode=mode)
        total = None
        if self.ce:
            assert z_bits is not None
            total = bits(likelihood(e_hat, mu, scale, step)) + z_bits
        out = crop_to(self.decoder(e_hat), features.shape)
        return CompressionOutput(out, total, e_hat, mu, scale, step)
