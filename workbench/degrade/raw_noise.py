"""Poisson–Gaussian raw noise per ISO (RViDeNet / EMVD protocol, docs/protocols.md §2.2) and the noise maps.

Model (12-bit DN, ``black`` subtracted; RViDeNet ``utils.generate_noisy_raw``)::

    noisy = Poisson((x − black) / a) · a + sqrt(b) · N(0, 1) + black,   clipped to [0, white]

so ``Var[noisy | x] = a · (x − black) + b`` (DN²) away from the clipping bounds; ``a``, ``b`` per ISO from
:data:`workbench.data.sensors.CRVD`. Everything here works on **normalised** values
``x_n = (x − black) / (white − black)`` (``workbench.data.raw.normalize_raw``), where the variance is
``a_n · x_n + b_n`` with ``a_n = a / (white − black)``, ``b_n = b / (white − black)²``; the Poisson rate
``(x − black) / a = x_n / a_n`` is floored at 0. Noisy values keep the DN clipping, i.e. they lie in
``[−black / (white − black), 1]``; :func:`workbench.data.raw.network_input` floors them at 0 before a network.

The seeded numpy sampler (:func:`add_raw_noise_frame`, :func:`raw_noise_seed`) lives in
:mod:`workbench.data.sensor_noise` (the embedded raw test set is noised at build time) and is re-exported
here. Seeding follows :mod:`workbench.degrade.awgn`: the test seed derives from ``(dataset, sequence, ISO)`` and
frame ``t`` depends only on ``(seed, t)``. Training noise draws one ISO per clip from one torch generator.

Noise maps (the one place the per-ISO parameters become maps):

- :func:`params_map` ``(N, 2, H, W)``: planes ``[a_n, b_n]`` — what a raw model receives as ``noise_map``;
- :func:`variance_map` ``(N, 4, H, W)``: ``σ² = a_n · clip(x, 0, 1) + b_n`` per packed plane, computed from
  the frame the model sees (EMVD's ``compute_sigma``; Baymax-chen/EMVD ``dataset.py``, ``structure.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from workbench.data.sensor_noise import add_raw_noise_frame, normalized_params, raw_noise_seed
from workbench.data.sensors import CRVD, Sensor

__all__ = ["add_raw_noise_frame", "add_raw_training_noise", "normalized_params", "params_map", "raw_noise_seed",
           "sample_training_isos", "training_params", "variance_map"]


def training_params(iso_index: Tensor, isos: tuple[int, ...], sensor: Sensor = CRVD) -> tuple[Tensor, Tensor]:
    """``(a_n, b_n)`` tensors ``(N,)`` for ISO indices ``(N,)`` into ``isos``."""
    table = torch.tensor([normalized_params(i, sensor) for i in isos], dtype=torch.float32)
    chosen = table[iso_index]
    return chosen[:, 0], chosen[:, 1]


def sample_training_isos(batch: int, generator: torch.Generator, count: int) -> Tensor:
    """One ISO index in ``0 .. count − 1`` per clip, uniform: ``(batch,)`` int64."""
    return torch.randint(0, count, (batch,), generator=generator)


def add_raw_training_noise(clean: Tensor, a_n: Tensor, b_n: Tensor, generator: torch.Generator) -> Tensor:
    """``clean`` (N, ...) normalised → noisy of the same shape, one ``(a_n, b_n)`` per clip, floored at 0
    (the network input, :func:`workbench.data.raw.network_input`)."""
    shape = (-1, *([1] * (clean.dim() - 1)))
    a, b = a_n.view(shape).to(clean.dtype), b_n.view(shape).to(clean.dtype)
    shot = torch.poisson(clean.clamp(min=0) / a, generator=generator) * a
    read = torch.randn(clean.shape, generator=generator, dtype=clean.dtype) * b.sqrt()
    # the DN clipping [−black/span, 1] followed by the network-input floor at 0 is clamp(0, 1)
    return (shot + read).clamp(0.0, 1.0)


def params_map(a_n: float | Tensor, b_n: float | Tensor, *, height: int, width: int,
               device: str | torch.device = "cpu") -> Tensor:
    """``(N, 2, H, W)`` float32 planes ``[a_n, b_n]`` (floats give ``N = 1``)."""
    a = torch.as_tensor(a_n, dtype=torch.float32).reshape(-1, 1, 1, 1)
    b = torch.as_tensor(b_n, dtype=torch.float32).reshape(-1, 1, 1, 1)
    return torch.cat([a, b], dim=1).expand(-1, 2, height, width).to(device)


def variance_map(frame: Tensor, params: Tensor) -> Tensor:
    """Noise variance ``a_n · clip(x, 0, 1) + b_n`` of ``frame`` ``(N, C, H, W)`` under ``params``
    ``(N, 2, H, W)`` (:func:`params_map`): ``(N, C, H, W)``."""
    return params[:, :1] * frame.clamp(0.0, 1.0) + params[:, 1:2]
