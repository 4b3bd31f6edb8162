"""The reconstruction term of the training loss, and how it weights clips of different noise levels.

``uniform`` (the paper's; eq. 6's distortion term, and plain L2 for the baselines): the mean squared error
over every element of the batch, ``mean_{n,t,c,h,w} (y - ỹ)²``. With σ ~ U[σ_min, σ_max] per clip the
clips of high σ dominate it: a clip's error scales with its noise variance, so at the mini recipe's
σ ∈ [5, 55] a σ = 50 clip weighs about 25 times as much as a σ = 10 one.

``inverse-sigma`` (a workbench option, not the paper's): clip ``n``'s MSE is weighted by
``w_n = (σ_max − σ_min) / (ln(σ_max/σ_min) · σ_n)``; ``E[1/σ] = ln(σ_max/σ_min)/(σ_max − σ_min)``, so these
weights average 1 too, and a σ = 50 clip weighs about 5 times a σ = 10 one instead of 25 (between the two).

``inverse-variance`` (a workbench option, not the paper's): clip ``n``'s MSE is weighted by
``w_n = σ_min · σ_max / σ_n²`` (σ on the 0–255 scale). ``E[1/σ²] = 1/(σ_min σ_max)`` for σ ~ U[σ_min, σ_max],
so the weights average 1 over the sampling distribution and the term keeps the scale of ``uniform`` (the
rate weight of eq. 6 keeps its meaning); each clip then counts by its error relative to its noise
variance, i.e. by its PSNR gain over the noisy input. The weights are constants of σ (no batch statistic),
so data-parallel ranks weight their shards alike. AWGN training only (a σ per clip, σ_min > 0).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

L2Weighting = Literal["uniform", "inverse-sigma", "inverse-variance"]
L2_WEIGHTINGS: tuple[str, ...] = ("uniform", "inverse-sigma", "inverse-variance")
#: the weightings that need one σ per clip (AWGN training, σ_min > 0)
SIGMA_WEIGHTINGS: tuple[str, ...] = ("inverse-sigma", "inverse-variance")


def clip_weights(sigma: Tensor, *, sigma_min: float, sigma_max: float, weighting: str) -> Tensor:
    """Per-clip weights (module docstring): ``sigma`` (N,) on the 0–255 scale → weights (N,), mean 1 over
    σ ~ U[σ_min, σ_max]; ``inverse-variance`` σ_min·σ_max/σ², ``inverse-sigma`` (σ_max−σ_min)/(ln(σ_max/σ_min)·σ)."""
    sig = sigma.float()
    if weighting == "inverse-variance":
        return (sigma_min * sigma_max) / sig**2
    if weighting == "inverse-sigma":
        if sigma_max == sigma_min:
            return torch.ones_like(sig)
        return (sigma_max - sigma_min) / (math.log(sigma_max / sigma_min) * sig)
    raise ValueError(f"no per-clip weights for l2 weighting {weighting!r}; known: {', '.join(SIGMA_WEIGHTINGS)}")


def l2_term(frames: Tensor, target: Tensor, sigma: Tensor | None, *, weighting: str, sigma_min: float,
            sigma_max: float) -> Tensor:
    """The loss's reconstruction term (module docstring) in fp32.

    ``frames`` and ``target``: (N, C, H, W) for window models, (N, T, C, H, W) for recurrent ones, the same
    shape; ``sigma``: (N,) per-clip σ (0–255) or None (pairs, raw). ``uniform`` is the plain mean."""
    err = (frames.float() - target.float()) ** 2
    if weighting == "uniform":
        return torch.mean(err)
    if weighting not in SIGMA_WEIGHTINGS:
        raise ValueError(f"unknown l2 weighting {weighting!r}; known: {', '.join(L2_WEIGHTINGS)}")
    if sigma is None or sigma.dim() != 1 or sigma.shape[0] != err.shape[0]:
        raise ValueError(f"{weighting} weighting needs one AWGN σ per clip")
    per_clip = err.flatten(1).mean(dim=1)
    weights = clip_weights(sigma.to(per_clip.device), sigma_min=sigma_min, sigma_max=sigma_max, weighting=weighting)
    return torch.mean(weights * per_clip)
