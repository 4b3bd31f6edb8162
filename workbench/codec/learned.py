"""A scale-hyperprior image codec (Ballé, Minnen, Singh, Hwang, Johnston, "Variational image compression
with a scale hyperprior", ICLR 2018), written here for the motivation study (paper §3, Fig. 2).

Architecture (paper Fig. 4, with N = M channels small enough for CPU training):

- analysis ``g_a``: 4 × [conv 5×5 stride 2], GDN between them: ``(N, 3, H, W) → (N, M, H/16, W/16)``;
- synthesis ``g_s``: 4 × [transposed conv 5×5 stride 2], inverse GDN between them;
- hyper analysis ``h_a`` on ``|y|``: conv 3×3 s1, ReLU, conv 5×5 s2, ReLU, conv 5×5 s2
  → ``z`` (N, N, H/64, W/64);
- hyper synthesis ``h_s``: tconv 5×5 s2, ReLU, tconv 5×5 s2, ReLU, conv 3×3 s1, ReLU → σ (N, M, H/16, W/16);
- ``z`` coded with a :class:`~workbench.codec.entropy.FactorizedPrior`, ``y`` with a zero-mean Gaussian
  of scale σ.

Quantisation: training adds U(−½, ½) noise for the rate terms and feeds ``round(y)`` with a straight-through
gradient to ``g_s`` ("mixed" quantisation, Minnen & Singh 2020); evaluation rounds both. Input ``x`` is
RGB float32 in [0, 1] with H, W multiples of 64 (:func:`pad_to_multiple`); output ``x_hat`` unclipped.
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
    """Ballé 2018 scale-hyperprior codec; ``n`` hidden and ``m`` latent channels."""

    def __init__(self, *, n: int = 48, m: int = 48):
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
        self.h_a = nn.Sequential(_conv(m, n, 3, 1), nn.ReLU(), _conv(n, n), nn.ReLU(), _conv(n, n))
        self.h_s = nn.Sequential(
            _tconv(n, n), nn.ReLU(), _tconv(n, n), nn.ReLU(), _conv(n, m, 3, 1), nn.ReLU()
        )
        self.z_prior = FactorizedPrior(channels=n)

    def analyse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (N, 3, H, W) → ``y`` (N, M, H/16, W/16) and hyper-latents ``z`` (N, N, H/64, W/64)."""
        y = self.g_a(x)
        return y, self.h_a(torch.abs(y))

    def scales(self, z_hat: Tensor) -> Tensor:
        """σ of the Gaussian conditional from the quantised hyper-latents."""
        return self.h_s(z_hat)

    def synthesise(self, y_hat: Tensor) -> Tensor:
        return self.g_s(y_hat)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Returns ``x_hat`` and the likelihoods of ``y`` and ``z`` (training: noisy; eval: rounded)."""
        y, z = self.analyse(x)
        if self.training:
            z_rate = z + torch.empty_like(z).uniform_(-0.5, 0.5)
            y_rate = y + torch.empty_like(y).uniform_(-0.5, 0.5)
            y_syn = y + (torch.round(y) - y).detach()
            z_hat = z_rate
        else:
            z_hat = torch.round(z)
            y_rate = y_syn = torch.round(y)
        sigma = self.scales(z_hat)
        return {
            "x_hat": self.synthesise(y_syn),
            "y_likelihood": gaussian_likelihood(y_rate, sigma),
            "z_likelihood": self.z_prior.likelihood(z_hat),
        }


def estimated_bits(out: dict[str, Tensor]) -> Tensor:
    """``−Σ log2 p`` over ``y`` and ``z`` of a forward pass (a scalar tensor, bits)."""
    return -(torch.log2(out["y_likelihood"]).sum() + torch.log2(out["z_likelihood"]).sum())
