"""Adaptive quantization, eq. 2 of Huang et al., CVPR 2022 (Sec. 4.3, Fig. 5).

``ê = round((e − μ) / q) · q + μ``: the latent ``e`` is centred on the predicted mean ``μ``, divided by
the predicted step ``q > 0``, rounded to the nearest integer and mapped back, so ``ê`` lies on the grid
``μ + k·q`` (``k ∈ ℤ``). Applying it twice gives the same result (idempotent).

Rounding has zero gradient, so training uses a proxy (``mode``):

- ``"round"``: hard rounding (inference; the paper's eq. 2 as written);
- ``"ste"``: straight-through estimator — the forward value is the hard ``ê``; the backward pass treats
  ``round`` as the identity, which gives ``∂ê/∂e = 1``, ``∂ê/∂μ = 0`` and ``∂ê/∂q = round(u) − u``
  (``u = (e − μ)/q``), so the step still receives a gradient through the decoder;
- ``"noise"``: additive uniform noise ``ê = e + q · U(−½, ½)`` (Ballé et al. 2017), the usual
  differentiable relaxation for the rate; uses the global torch RNG.

Tensors of any (broadcastable) shape; ``q`` must be positive.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

QuantMode = Literal["round", "ste", "noise"]
QUANT_MODES: tuple[str, ...] = ("round", "ste", "noise")


def quantize(e: Tensor, mu: Tensor | float, q: Tensor | float, *, mode: QuantMode = "round") -> Tensor:
    """Quantize ``e`` on the grid ``mu + k·q`` (eq. 2) with the given training proxy."""
    if mode == "noise":
        return e + (torch.rand_like(e) - 0.5) * q
    u = (e - mu) / q
    if mode == "round":
        k = torch.round(u)
    elif mode == "ste":
        k = u + (torch.round(u) - u).detach()
    else:
        raise ValueError(f"unknown quantization mode {mode!r}; use one of {QUANT_MODES}")
    return k * q + mu
