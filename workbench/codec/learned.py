"""Hyperprior image codecs of the motivation study (paper §3, Fig. 2).

:class:`HyperpriorCodec`: the scale hyperprior of Ballé, Minnen, Singh, Hwang, Johnston, "Variational image
compression with a scale hyperprior", ICLR 2018 (paper Fig. 4; N = M channels small enough for CPU training):

- analysis ``g_a``: 4 × [conv 5×5 stride 2], GDN between them: ``(N, 3, H, W) → (N, M, H/16, W/16)``;
- synthesis ``g_s``: 4 × [transposed conv 5×5 stride 2], inverse GDN between them;
- hyper analysis ``h_a`` on ``|y|``: conv 3×3 s1, ReLU, conv 5×5 s2, ReLU, conv 5×5 s2
  → ``z`` (N, N, H/64, W/64);
- hyper synthesis ``h_s``: tconv 5×5 s2, ReLU, tconv 5×5 s2, ReLU, conv 3×3 s1, ReLU → σ (N, M, H/16, W/16);
- ``z`` coded with a :class:`~workbench.codec.entropy.FactorizedPrior`, ``y`` with a zero-mean Gaussian
  of scale σ.

:class:`MeanScaleHyperpriorCodec`: the mean-scale hyperprior of Minnen, Ballé, Toderici, "Joint
autoregressive and hierarchical priors for learned image compression", NeurIPS 2018 (its model without the
context model), in CompressAI's layout (``MeanScaleHyperprior``, compressai/models/google.py): the same
``g_a``/``g_s``; ``h_a`` on ``y`` itself with LeakyReLU; ``h_s``: tconv 5×5 s2 N→M, LeakyReLU, tconv 5×5 s2
M→3M/2, LeakyReLU, conv 3×3 s1 3M/2→2M, whose output splits into σ (first M channels) and μ (last M);
``y`` is coded as ``round(y − μ)`` with a Gaussian of scale σ, ``ŷ = round(y − μ) + μ``.

Both share one interface (:meth:`HyperpriorCodec.analyse`, :meth:`~HyperpriorCodec.means_scales`,
:meth:`~HyperpriorCodec.synthesise`, ``forward`` → ``x_hat``, ``y_likelihood``, ``z_likelihood``), which the
bitstream coder (:mod:`workbench.codec.bitstream`) and :func:`estimated_bits` use.

Quantisation: training adds U(−½, ½) noise for the rate terms and feeds ``round(y − μ) + μ`` with a
straight-through gradient to ``g_s`` ("mixed" quantisation, Minnen & Singh 2020); evaluation rounds both
(``z`` around the prior's offsets, zero unless imported). Input ``x`` is RGB float32 in [0, 1] with H, W
multiples of 64 (:func:`pad_to_multiple`); output ``x_hat`` unclipped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.codec.entropy import FactorizedPrior, gaussian_likelihood
from workbench.models.gdn import GDN

SIZE_MULTIPLE = 64


def _conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def _tconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=k // 2, output_padding=stride - 1)


def pad_to_multiple(x: Tensor, multiple: int = SIZE_MULTIPLE) -> Tensor:
    """Replicate-pad ``(N, C, H, W)`` on the bottom/right to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


class HyperpriorCodec(nn.Module):
    """Ballé 2018 scale-hyperprior codec; ``n`` hidden and ``m`` latent channels.

    ``prior_filters`` / ``prior_medians``: the :class:`FactorizedPrior` of ``z`` (an imported CompressAI
    model needs (3, 3, 3, 3) and its medians; the codecs trained here keep the defaults).
    """

    family = "hyperprior"

    def __init__(self, *, n: int = 48, m: int = 48, prior_filters: tuple[int, ...] = (3, 3, 3),
                 prior_medians: bool = False):
        super().__init__()
        self.n, self.m = n, m
        self.g_a = nn.Sequential(
            _conv(3, n),
            GDN(channels=n),
            _conv(n, n),
            GDN(channels=n),
            _conv(n, n),
            GDN(channels=n),
            _conv(n, m),
        )
        self.g_s = nn.Sequential(
            _tconv(m, n),
            GDN(channels=n, inverse=True),
            _tconv(n, n),
            GDN(channels=n, inverse=True),
            _tconv(n, n),
            GDN(channels=n, inverse=True),
            _tconv(n, 3),
        )
        self.h_a, self.h_s = self._hyper_transforms(n, m)
        self.z_prior = FactorizedPrior(channels=n, filters=prior_filters, medians=prior_medians)

    @staticmethod
    def _hyper_transforms(n: int, m: int) -> tuple[nn.Sequential, nn.Sequential]:
        h_a = nn.Sequential(_conv(m, n, 3, 1), nn.ReLU(), _conv(n, n), nn.ReLU(), _conv(n, n))
        h_s = nn.Sequential(_tconv(n, n), nn.ReLU(), _tconv(n, n), nn.ReLU(), _conv(n, m, 3, 1), nn.ReLU())
        return h_a, h_s

    def analyse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (N, 3, H, W) → ``y`` (N, M, H/16, W/16) and hyper-latents ``z`` (N, N, H/64, W/64)."""
        y = self.g_a(x)
        return y, self.h_a(torch.abs(y))

    def means_scales(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        """μ (zeros here) and σ of the Gaussian conditional, each (N, M, H/16, W/16), from ``ẑ``."""
        sigma = self.h_s(z_hat)
        return torch.zeros_like(sigma), sigma

    def synthesise(self, y_hat: Tensor) -> Tensor:
        return self.g_s(y_hat)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Returns ``x_hat`` and the likelihoods of ``y`` and ``z`` (training: noisy; eval: rounded)."""
        y, z = self.analyse(x)
        if self.training:
            z_hat = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        else:
            z_hat = self.z_prior.quantise(z)[1]
        mu, sigma = self.means_scales(z_hat)
        residual = y - mu
        if self.training:
            r_rate = residual + torch.empty_like(y).uniform_(-0.5, 0.5)
            y_syn = y + (torch.round(residual) + mu - y).detach()
        else:
            r_rate = torch.round(residual)
            y_syn = r_rate + mu
        return {
            "x_hat": self.synthesise(y_syn),
            "y_likelihood": gaussian_likelihood(r_rate, sigma),
            "z_likelihood": self.z_prior.likelihood(z_hat),
        }


class MeanScaleHyperpriorCodec(HyperpriorCodec):
    """Minnen 2018 mean-scale hyperprior (CompressAI's ``MeanScaleHyperprior`` layout)."""

    family = "mean-scale-hyperprior"

    @staticmethod
    def _hyper_transforms(n: int, m: int) -> tuple[nn.Sequential, nn.Sequential]:
        h_a = nn.Sequential(_conv(m, n, 3, 1), nn.LeakyReLU(), _conv(n, n), nn.LeakyReLU(), _conv(n, n))
        h_s = nn.Sequential(
            _tconv(n, m), nn.LeakyReLU(), _tconv(m, m * 3 // 2), nn.LeakyReLU(), _conv(m * 3 // 2, 2 * m, 3, 1)
        )
        return h_a, h_s

    def analyse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (N, 3, H, W) → ``y`` (N, M, H/16, W/16) and ``z = h_a(y)`` (N, N, H/64, W/64)."""
        y = self.g_a(x)
        return y, self.h_a(y)

    def means_scales(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        """μ and σ, each (N, M, H/16, W/16): ``h_s(ẑ)`` holds σ in its first M channels, μ in the last M."""
        sigma, mu = self.h_s(z_hat).chunk(2, dim=1)
        return mu, sigma


def estimated_bits(out: dict[str, Tensor]) -> Tensor:
    """``−Σ log2 p`` over ``y`` and ``z`` of a forward pass (a scalar tensor, bits)."""
    return -(torch.log2(out["y_likelihood"]).sum() + torch.log2(out["z_likelihood"]).sum())
