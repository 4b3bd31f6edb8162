"""Generalized divisive normalization (Ballé et al., ICLR 2016 / 2017), as used by the NCFL feature
encoder (GDN) and decoder (inverse GDN), and by the learned codec of the motivation study.

``y_i = x_i / sqrt(beta_i + sum_j gamma_ij * x_j^2)`` (GDN) and ``y_i = x_i * sqrt(...)`` (IGDN).
``beta`` (C,) > 0 and ``gamma`` (C, C) >= 0 are kept positive by a lower-bounded, squared
re-parameterisation (``param = sqrt(max(value, bound) + pedestal)``) with the pedestal 2^-36, as in
the reference codecs; ``gamma`` starts at ``gamma_init * I`` and ``beta`` at 1.
Input and output: ``(N, C, H, W)``, any real range.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PEDESTAL = 2.0**-36


class _LowerBound(torch.autograd.Function):
    """max(x, bound) whose gradient still flows when x is below the bound but the gradient pushes it up."""

    @staticmethod
    def forward(ctx, x: Tensor, bound: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        x, bound = ctx.saved_tensors
        pass_through = (x >= bound) | (grad < 0)
        return pass_through.type_as(grad) * grad, None


def lower_bound(x: Tensor, bound: float) -> Tensor:
    return _LowerBound.apply(x, torch.tensor(bound, dtype=x.dtype, device=x.device))  # type: ignore[no-any-return]


def gdn_parameter(value: Tensor) -> Tensor:
    """The stored parameter ``sqrt(value + pedestal)`` of an effective ``beta`` / ``gamma`` value (same shape);
    used to import weights whose re-parameterisation differs (:mod:`workbench.codec.compressai_import`)."""
    return torch.sqrt(value + PEDESTAL)


class GDN(nn.Module):
    """GDN / inverse GDN over channels of ``(N, C, H, W)`` tensors."""

    def __init__(self, *, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = inverse
        self.beta_bound = (beta_min + PEDESTAL) ** 0.5
        self.gamma_bound = PEDESTAL**0.5
        self.beta = nn.Parameter(torch.sqrt(torch.ones(channels) + PEDESTAL))
        self.gamma = nn.Parameter(torch.sqrt(gamma_init * torch.eye(channels) + PEDESTAL))

    def effective_params(self) -> tuple[Tensor, Tensor]:
        """The positive ``beta`` (C,) and ``gamma`` (C, C) actually used."""
        beta = lower_bound(self.beta, self.beta_bound) ** 2 - PEDESTAL
        gamma = lower_bound(self.gamma, self.gamma_bound) ** 2 - PEDESTAL
        return beta, gamma

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        beta, gamma = self.effective_params()
        norm = F.conv2d(x * x, gamma.view(c, c, 1, 1), beta)
        norm = torch.sqrt(norm)
        return x * norm if self.inverse else x / norm
