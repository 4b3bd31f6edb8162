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
  scale bound of learned codecs) and ``q_min = 0.01``; offset so that ``σ`` starts at
  :data:`SCALE_INIT` = 2 and ``q`` at :data:`STEP_INIT` = 1.

Live start (choices; the paper gives no initialisation). With PyTorch's default convolution init the
encoder output has a standard deviation of only 0.03 (full width) to 0.07 (smoke width), most of it
per-channel bias, with a spatial (content) part of 0.006–0.013; ``z`` is alike (0.04–0.08). With
``q = σ = 1`` every latent and hyper-latent element then falls in the zero bin (measured share 1.000 for
AdapQ, FixedQ and M2 at smoke width on embedded-test, AWGN σ = 25), so ``ê ≡ μ``: the decoder sees
nothing of ``c_{t−1}``, the rate gives ``μ`` no gradient (≈ 1e-16) and pushes ``σ`` to its floor.
AdapQ could escape by shrinking ``q``; FixedQ could not. Therefore:

- the latent scale is learned by a scalar gain: ``e = g_e · Encoder(č)`` and the decoder reads
  ``ê / g_e`` (its input statistics stay those of the default init); ``g_e = exp(log_gain)`` starts at
  :data:`LATENT_GAIN_INIT` = 256. FixedQ's step stays the constant ``fixed_step`` (1): in the encoder's
  own units its effective step is ``1 / g_e``, which is what "learning the latent scale" means;
- the encoder's (and ``h_a``'s) conv biases start at 0, so that the gain amplifies content of
  ``c_{t−1}``, not constant channel offsets that would be non-zero symbols carrying nothing;
- the hyper-latent likewise: ``z = g_z · h_a(e)``, ``h_s(ẑ / g_z)``, ``g_z`` from
  :data:`HYPER_GAIN_INIT` = 4;
- ``σ`` (latent and hyper-latent) starts at 2, matched to the new latent scale, so the rate neither
  floors ``σ`` nor punishes every symbol at step 0; AdapQ's ``q`` starts at FixedQ's constant 1, so
  that Table 6 compares two quantizers from the same start.

Measured at step 0 (seed 0, embedded-test clips, AWGN σ = 25; std over all latent elements): smoke width
(0.25) latent std 3.0–6.7, zero-bin share 0.05–0.17, ``z`` std 2.0–5.0 (share 0.08–0.20); full width
``Md``/``fixedq`` latent std 1.6–4.1, share 0.10–0.23, ``z`` share 0.12–0.27; ``dehaze`` widths latent
std 1.0–1.3, share 0.34–0.45. The prior's ``μ`` then receives the rate's gradient of a coded symbol
(``λ / (N·H·W·T·σ·ln 2)`` per element; ≈ 2e-9 at λ = 1e-4 on a 96x160 clip, 1e7 × the dead start's).
The initial rate rises accordingly (≈ 4–6 bpp at smoke width, 12–18 bpp at full width, from ≈ 1.4 and
5.6). The gains are scalars (no MACs; two parameters per module). NoQ is left as it was (it never
rounds).

Modes:

- ``quant="adaptive"`` (AdapQ, the paper's): ``μ, σ, q`` predicted;
- ``quant="fixed"`` (FixedQ): ``q`` is the constant buffer ``fixed_step`` (default 1, as in neural codecs),
  the prior predicts ``μ, σ`` only (no ``q`` output channels);
- ``quant="none"`` (NoQ): a plain auto-encoder — encoder and decoder only; no quantizer, no prior, no rate.

``ce=False`` (Table 7, M2 "w/o CE") keeps exactly the same modules and quantization (``μ`` and ``q`` are
still predicted and used by eq. 2) but keeps eqs. 4–5 out of the loss: :attr:`CompressionOutput.bits` is
``None`` (the rate is evaluated under ``no_grad`` for ``stats`` only), so ``σ`` (and the hyper-latent's
density) receive no gradient. Nor does ``μ``: the straight-through proxy has ``∂ê/∂μ = 0``, so without
the rate the prior's ``μ`` rows are never trained (``μ`` drifts only through the layers it shares with
``q``) and merely set the rounding offset; ``q`` learns through the decoder (``∂ê/∂q = round(u) − u``).

Diagnostics: :attr:`CompressionOutput.stats` (detached scalars; AdapQ and FixedQ, ``ce`` either way):
``zero_bin_share`` (share of ``round((e − μ)/q) == 0``), ``z_zero_bin_share``, ``q_mean``, ``sigma_mean`` and ``bpp``
(rate per pixel of ``features``; for ``ce=False`` evaluated under ``no_grad``, for the log only).

Quantization proxy in training mode: ``proxy`` (``"ste"`` or ``"noise"``, see
:mod:`~workbench.models.ncfl.quantization`); in eval mode always hard rounding. Bits are summed over the
batch (divide by ``N·H·W`` for bits per pixel).

Shapes: ``features`` ``(N, C_f, H, W)``, ``frame`` ``(N, C, H, W)``; output features ``(N, C_f, H, W)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.models.gdn import GDN
from workbench.models.ncfl.entropy import bits, likelihood
from workbench.models.ncfl.layers import Up2, act, conv3, crop_to
from workbench.models.ncfl.quantization import QuantMode, quantize
from workbench.ops.autocast import fp32_region

QuantKind = Literal["adaptive", "fixed", "none"]
QUANT_KINDS: tuple[str, ...] = ("adaptive", "fixed", "none")
QuantProxy = Literal["ste", "noise"]
SCALE_MIN = 0.11
STEP_MIN = 0.01
#: initial encoder-output gain ``g_e`` (latent std ≈ 2 at full width, ≈ 5 at smoke width; see docstring)
LATENT_GAIN_INIT = 256.0
#: initial hyper-analysis gain ``g_z`` (hyper-latent std ≈ 2)
HYPER_GAIN_INIT = 4.0
#: initial Laplace scale of the latent and of the hyper-latent (matched to a latent std of ≈ 2–3)
SCALE_INIT = 2.0
#: initial AdapQ step: FixedQ's constant, so that AdapQ and FixedQ start from the same quantizer
STEP_INIT = 1.0


def _softplus_offset(target: float, floor: float) -> float:
    """``c`` with ``floor + softplus(c) = target``."""
    return math.log(math.expm1(target - floor))


def _zero_biases(module: nn.Module) -> None:
    for mod in module.modules():
        if isinstance(mod, nn.Conv2d) and mod.bias is not None:
            nn.init.zeros_(mod.bias)


@torch.no_grad()
def zero_bin_share(x: Tensor, mu: Tensor | float, step: Tensor | float) -> Tensor:
    """Fraction of elements with ``round((x − μ)/q) == 0`` (the symbol 0 of eq. 2), a scalar in [0, 1]."""
    return (torch.round((x - mu) / step) == 0).to(x.dtype).mean()


@dataclass
class CompressionOutput:
    """``features`` = c~_t; ``bits`` scalar (ê and ẑ, whole batch) or ``None`` when no rate is defined;
    ``latent`` = ê_t (e_t for NoQ); ``mu``/``scale``/``step`` the prior's outputs (``None`` for NoQ);
    ``stats``: detached scalar diagnostics (empty for NoQ) — ``zero_bin_share``, ``z_zero_bin_share``,
    ``q_mean``, ``sigma_mean`` and ``bpp`` (bits of ê and ẑ per pixel of ``features``; evaluated under
    ``no_grad`` for the log when ``ce=False``)."""

    features: Tensor
    bits: Tensor | None
    latent: Tensor
    mu: Tensor | None = None
    scale: Tensor | None = None
    step: Tensor | None = None
    stats: dict[str, Tensor] = field(default_factory=dict)


class HyperPrior(nn.Module):
    """``z = g_z · h_a(e)``, unit-step quantization, factorised per-channel Laplace, ``h_s(ẑ / g_z)``."""

    def __init__(self, *, latent_channels: int, channels: int) -> None:
        super().__init__()
        self.analysis = nn.Sequential(conv3(latent_channels, channels, stride=2), act(),
                                      conv3(channels, channels, stride=2))
        _zero_biases(self.analysis)
        self.synthesis = nn.Sequential(Up2(channels, channels), act(), Up2(channels, channels), act())
        self.log_gain = nn.Parameter(torch.tensor(math.log(HYPER_GAIN_INIT)))
        self.z_mu = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.z_scale_raw = nn.Parameter(torch.full((1, channels, 1, 1), _softplus_offset(SCALE_INIT, SCALE_MIN)))

    def forward(self, e: Tensor, mode: QuantMode) -> tuple[Tensor, Tensor, Tensor]:
        """``(h_s(ẑ / g_z)`` cropped to ``e``'s size, ``z``, ``ẑ)``."""
        gain = self.log_gain.exp()
        z = self.analysis(e) * gain
        z_hat = quantize(z, self.z_mu, 1.0, mode=mode)
        return crop_to(self.synthesis(z_hat / gain), e.shape), z, z_hat

    def rate(self, z_hat: Tensor) -> Tensor:
        """Bits of ``ẑ`` under the factorised Laplace (eq. 5 with unit step)."""
        scale = SCALE_MIN + F.softplus(self.z_scale_raw)
        return bits(likelihood(z_hat, self.z_mu.expand_as(z_hat), scale.expand_as(z_hat), 1.0))


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
        _zero_biases(self.encoder)
        self.log_gain = nn.Parameter(torch.tensor(math.log(LATENT_GAIN_INIT)))
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
        scale = SCALE_MIN + F.softplus(out[:, lc : 2 * lc] + _softplus_offset(SCALE_INIT, SCALE_MIN))
        if self.quant == "adaptive":
            step = STEP_MIN + F.softplus(out[:, 2 * lc :] + _softplus_offset(STEP_INIT, STEP_MIN))
        else:
            step = self.fixed_step.expand_as(mu)
        return mu, scale, step

    def forward(self, features: Tensor, frame: Tensor) -> CompressionOutput:
        if self.quant == "none":
            e = self.encoder(features)
            return CompressionOutput(crop_to(self.decoder(e), features.shape), None, e)
        gain = self.log_gain.exp()
        encoded = self.encoder(features)
        # the entropy model (hyper-prior, prior, quantizer, eqs. 4–5) in fp32 under a caller's autocast
        # (bf16 training, workbench/train/precision.py); without autocast the region and the casts are no-ops
        with fp32_region(features.device.type):
            e = encoded.float() * gain
            mode = self._mode()
            hyper_features, z, z_hat = self.hyper(e, mode)
            frame_ctx = crop_to(self.frame_context(frame.float()), e.shape)
            mu, scale, step = self.prior_parameters(hyper_features, frame_ctx)
            e_hat = quantize(e, mu, step, mode=mode)
            # eqs. 4–5 only where the loss uses them; with ce=False the rate exists for the log alone
            with torch.set_grad_enabled(self.ce and torch.is_grad_enabled()):
                rate = bits(likelihood(e_hat, mu, scale, step)) + self.hyper.rate(z_hat)
        out = crop_to(self.decoder(e_hat / gain), features.shape)
        n, _, h, w = features.shape
        stats = {
            "zero_bin_share": zero_bin_share(e, mu, step),
            "z_zero_bin_share": zero_bin_share(z, self.hyper.z_mu, 1.0),
            "q_mean": step.detach().mean(),
            "sigma_mean": scale.detach().mean(),
            "bpp": rate.detach() / (n * h * w),
        }
        return CompressionOutput(out, rate if self.ce else None, e_hat, mu, scale, step, stats)
