"""Probability model and cross-entropy of the quantized latent: eqs. 4 and 5 of Huang et al., CVPR 2022.

Eq. 5: ``p(ê_i) = (L(μ_i, σ_i) * U(−q_i/2, q_i/2))(ê_i)``; as a probability mass over the grid of eq. 2
this is the Laplace mass of the quantization bin around ``ê_i``:

``P(ê_i) = F(ê_i − μ_i + q_i/2) − F(ê_i − μ_i − q_i/2)``,  ``F`` the CDF of Laplace(0, b_i).

Choice: the Laplace **scale** is ``b = σ`` (not ``σ/√2``, which the notation ``L(μ, σ²)`` would suggest
if ``σ²`` were the variance): the paper follows [15] (PyTorchVideoCompression) and [17] (DCVC), whose
code uses ``Laplace(loc=μ, scale=σ)``.

Numerics: with ``v = |ê − μ|`` the symmetric lower-tail form ``P = F(q/2 − v) − F(−q/2 − v)`` is
evaluated in closed form without cancellation (``a = q/(2b)``, ``w = v/b``):

- ``v ≥ q/2`` (both bin edges in the lower tail): ``P = ½·exp(a − w)·(−expm1(−2a))``;
- ``v < q/2`` (the bin contains ``μ``): ``P = −½·(expm1(w − a) + expm1(−w − a))``.

The probability is then bounded below by :data:`LIKELIHOOD_BOUND` (gradient passes where it pushes the
probability up, as in the reference codecs). Eq. 4: bits ``= Σ −log2 P``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from workbench.models.gdn import lower_bound

LIKELIHOOD_BOUND = 1e-9


def laplace_bin_probability(x: Tensor, mu: Tensor, scale: Tensor, q: Tensor | float) -> Tensor:
    """Mass of Laplace(``mu``, ``scale``) on ``[x − q/2, x + q/2]`` (eq. 5), elementwise, unbounded."""
    v = (x - mu).abs()
    a = torch.as_tensor(q, dtype=x.dtype, device=x.device) / (2.0 * scale)
    w = v / scale
    tail = 0.5 * torch.exp(torch.clamp(a - w, max=0.0)) * -torch.expm1(-2.0 * a)
    wc = torch.minimum(w, a)
    centre = -0.5 * (torch.expm1(wc - a) + torch.expm1(-wc - a))
    return torch.where(w >= a, tail, centre)


def likelihood(x: Tensor, mu: Tensor, scale: Tensor, q: Tensor | float) -> Tensor:
    """Eq. 5 bounded below by ``LIKELIHOOD_BOUND`` (1e-9)."""
    return lower_bound(laplace_bin_probability(x, mu, scale, q), LIKELIHOOD_BOUND)


def bits(prob: Tensor) -> Tensor:
    """Eq. 4 summed: ``Σ −log2 prob`` as a scalar tensor (bits)."""
    return -torch.log(prob).sum() / math.log(2.0)
