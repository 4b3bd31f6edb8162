"""The training degradation of a recipe (``train.noise``): what the loop turns a batch of clips into.

- ``awgn`` (default; Tables 1, 5–8): σ ~ U[sigma_min, sigma_max] per clip, N(0, σ/255) added
  (:mod:`workbench.degrade.awgn`); the level is σ ``(N,)`` and the noise map σ/255 ``(N, 1, H, W)``;
- ``raw-iso`` (SRVD pretraining, embedded raw clips): one ISO per clip drawn uniformly from ``isos``,
  Poisson–Gaussian noise of that ISO on the clean packed raw clip (:mod:`workbench.degrade.raw_noise`);
  the level is ``[a_n, b_n]`` ``(N, 2)`` and the noise map its planes ``(N, 2, H, W)``;
- ``raw-pair`` (CRVD fine-tuning): the clips are stacked CRVD pairs (:mod:`workbench.data.crvd`: noisy 4 |
  clean 4 | ``[a_n, b_n]`` 2 channels), so nothing is drawn: the noisy and clean halves are split and the
  level is read from the parameter planes.

The AWGN path draws from the generator exactly as the loop always did (σ, then the noise), so existing runs
resume and reproduce bit for bit; ``noise`` is left out of config hashes at its default.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from workbench.data.sensors import CRVD
from workbench.degrade.awgn import add_training_noise, noise_map, sample_training_sigma
from workbench.degrade.raw_noise import add_raw_training_noise, params_map, sample_training_isos, training_params

NoiseKind = Literal["awgn", "raw-iso", "raw-pair"]
NOISE_KINDS: tuple[str, ...] = ("awgn", "raw-iso", "raw-pair")
RAW_CHANNELS = 4


def degrade_batch(kind: str, clean: Tensor, g: torch.Generator, *, sigma_min: float, sigma_max: float,
                  isos: tuple[int, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """``clean`` clips ``(N, T, C, P, P)`` → ``(noisy, target, level)`` (module docstring), on the CPU."""
    n = clean.shape[0]
    if kind == "awgn":
        sigma = sample_training_sigma(n, g, sigma_min, sigma_max)
        return add_training_noise(clean, sigma, g), clean, sigma
    if kind == "raw-iso":
        a_n, b_n = training_params(sample_training_isos(n, g, len(isos)), isos, CRVD)
        return add_raw_training_noise(clean, a_n, b_n, g), clean, torch.stack([a_n, b_n], dim=1)
    if kind == "raw-pair":
        c = RAW_CHANNELS
        return clean[:, :, :c], clean[:, :, c:2 * c], clean[:, 0, 2 * c:2 * c + 2, 0, 0]
    raise ValueError(f"unknown training noise {kind!r}; known: {', '.join(NOISE_KINDS)}")


def level_map(kind: str, level: Tensor, *, height: int, width: int, device: str | torch.device) -> Tensor:
    """The noise map a non-blind model receives for ``level``: ``(N, 1, H, W)`` σ/255 or ``(N, 2, H, W)``."""
    if kind == "awgn":
        return noise_map(level, height=height, width=width, device=device)
    return params_map(level[:, 0], level[:, 1], height=height, width=width, device=device)


def log_level(kind: str, level: Tensor) -> float:
    """The ``noise_sigma_mean`` column of ``loss.csv``: mean σ (0–255) for AWGN, mean σ_read·255 for raw
    (``sqrt(b_n) · 255``, the read-noise standard deviation on the 0–255 scale of the normalised range)."""
    return float(level.mean()) if kind == "awgn" else float((level[:, 1].sqrt() * 255.0).mean())


def frame_channels(kind: str, channels: int) -> int:
    """Channels of the frames the model sees, given the channels the sampler returns."""
    return RAW_CHANNELS if kind == "raw-pair" else channels
