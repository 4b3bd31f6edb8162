"""Entropy models of the hyperprior codec (Ballé, Minnen, Singh, Hwang, Johnston, ICLR 2018).

- :class:`FactorizedPrior` — the "entropy bottleneck" for the hyper-latent ``z`` (paper appendix 6.1):
  per channel a learned, monotone cumulative ``c(x) = sigmoid(f(x))`` where ``f`` is a small network
  ``R → R`` with positive (softplus) matrices, biases and ``tanh``-gated residual non-linearities;
  ``p(ẑ = k) = c(k + ½) − c(k − ½)``. Optionally (``medians=True``, a codec imported from CompressAI,
  :mod:`workbench.codec.compressai_import`) ``z`` is quantised around per-channel medians ``μ_c`` as
  CompressAI's ``EntropyBottleneck`` does: symbol ``k = round(z − μ_c)``, value ``ẑ = k + μ_c``; the codecs
  trained here keep ``μ = 0``.
- :func:`gaussian_likelihood` — the Gaussian conditional for ``y`` (zero mean, scale σ from the
  hyperprior): ``p(ŷ = k) = Φ((k + ½)/σ) − Φ((k − ½)/σ)``, σ lower-bounded by 0.11.

Both return per-element likelihoods lower-bounded by 1e-9, so the estimated rate ``−Σ log2 p`` is
finite; σ and the likelihoods are bounded with :func:`~workbench.models.gdn.lower_bound`, whose
gradient still flows where it pushes the value up. The entropy coder (:mod:`workbench.codec.bitstream`)
builds its tables from these same functions, so estimated and actual rates differ only by coding
overheads.
Tensors: ``(N, C, H, W)`` float32.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.models.gdn import lower_bound

LIKELIHOOD_BOUND = 1e-9
SCALE_BOUND = 0.11


def _std_normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * torch.erfc(-x / math.sqrt(2.0))


def gaussian_likelihood(y_hat: Tensor, scales: Tensor) -> Tensor:
    """Zero-mean Gaussian convolved with U(−½, ½), evaluated at ``y_hat`` (symmetric form for accuracy)."""
    s = lower_bound(scales, SCALE_BOUND)
    v = torch.abs(y_hat)
    lik = _std_normal_cdf((0.5 - v) / s) - _std_normal_cdf((-0.5 - v) / s)
    return lower_bound(lik, LIKELIHOOD_BOUND)


def scale_table(levels: int = 64, lo: float = SCALE_BOUND, hi: float = 64.0) -> np.ndarray:
    """Log-spaced σ levels used by the entropy coder (a scale is coded with its nearest level)."""
    return np.exp(np.linspace(math.log(lo), math.log(hi), levels))


def scale_indices(scales: Tensor, table: np.ndarray) -> np.ndarray:
    """Index of the nearest level in log σ, for each element of ``scales`` (flattened, int64)."""
    s = np.log(np.clip(scales.detach().double().cpu().numpy().ravel(), table[0], table[-1]))
    logt = np.log(table)
    mid = 0.5 * (logt[1:] + logt[:-1])
    return np.searchsorted(mid, s).astype(np.int64)


class FactorizedPrior(nn.Module):
    """Per-channel learned density for ``z`` (N, C, H, W); Ballé et al. 2018, appendix 6.1.

    ``filters``: widths of the hidden layers of ``f`` (ours (3, 3, 3); CompressAI's default (3, 3, 3, 3)).
    ``medians``: keep per-channel quantisation offsets ``μ`` (C,) as a buffer of the state dict; without it
    ``μ`` is a zero buffer outside the state dict (so the codec checkpoints written by
    :mod:`workbench.codec.train` keep their keys).
    """

    medians: Tensor

    def __init__(self, *, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0,
                 medians: bool = False):
        super().__init__()
        self.register_buffer("medians", torch.zeros(channels), persistent=medians)
        dims = (1, *filters, 1)
        scale = init_scale ** (1.0 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def _logits(self, x: Tensor) -> Tensor:
        """``f(x)`` for ``x`` of shape (C, 1, L) → (C, 1, L)."""
        for i, (m, b) in enumerate(zip(self.matrices, self.biases)):
            x = torch.matmul(F.softplus(m), x) + b
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def offsets(self) -> Tensor:
        """The quantisation offsets ``μ`` as ``(1, C, 1, 1)`` (zeros unless imported)."""
        return self.medians.view(1, -1, 1, 1)

    def quantise(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Integer symbols ``round(z − μ)`` and the values ``ẑ = symbols + μ`` of ``z`` (N, C, H, W)."""
        offsets = self.offsets()
        symbols = torch.round(z - offsets)
        return symbols, symbols + offsets

    def likelihood(self, z_hat: Tensor) -> Tensor:
        """``p(ẑ)`` element-wise for ``z_hat`` (N, C, H, W) (integers, or noisy values in training)."""
        n, c, h, w = z_hat.shape
        x = z_hat.permute(1, 0, 2, 3).reshape(c, 1, -1)
        upper, lower = self._logits(x + 0.5), self._logits(x - 0.5)
        sign = -torch.sign(upper + lower).detach()  # evaluate in the tail where sigmoid is accurate
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        lik = lik.reshape(c, n, h, w).permute(1, 0, 2, 3)
        return lower_bound(lik, LIKELIHOOD_BOUND)

    @torch.no_grad()
    def tails(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """``(c(x), 1 − c(x))`` for every channel at ``x = points + μ_c`` (``points`` (L,) in symbol units),
        each (C, L), accurate in both tails."""
        c = self.matrices[0].shape[0]
        x = points.float().view(1, 1, -1) + self.medians.view(c, 1, 1)
        logits = self._logits(x)[:, 0]
        return torch.sigmoid(logits), torch.sigmoid(-logits)

    @torch.no_grad()
    def pmf_table(self, lo: int, hi: int) -> np.ndarray:
        """``(C, hi − lo + 1)`` float64: p(symbol_c = k) = p(ẑ_c = k + μ_c) for k = lo..hi, computed as in
        :meth:`likelihood`."""
        k = torch.arange(lo, hi + 1, dtype=torch.float32)
        grid = k.view(1, 1, -1, 1) + self.offsets()
        return self.likelihood(grid)[0, :, :, 0].double().numpy()
