"""Additive white Gaussian noise, FastDVDNet test protocol (docs/protocols.md §1.3).

- σ is given on the [0, 255] scale and applied to frames in [0, 1] as ``N(0, σ/255)``;
- float32, **not clipped** (the protocol of FastDVDNet, VRT and FloRNN);
- the seed is derived from ``(dataset, sequence, σ)`` by :func:`noise_seed` and recorded with results,
  and the noise of frame ``t`` depends only on ``(seed, t)``, so streaming one frame at a time gives
  the same bits as degrading the whole clip at once.

Training noise: σ ~ U[5, 55] per clip (:func:`sample_training_sigma`; the range is the recipe's
``sigma_min``/``sigma_max``). Non-blind models get σ as a noise map on the [0, 1] scale
(:func:`noise_map`), the one place where σ/255 becomes a map.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch


def noise_seed(dataset: str, sequence: str, sigma: float) -> int:
    """A 63-bit seed from ``(dataset, sequence, σ)``; σ formatted with ``%g`` (``50`` and ``50.0`` agree)."""
    key = f"awgn/{dataset}/{sequence}/{float(sigma):g}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") & (2**63 - 1)


def awgn_noise(shape: tuple[int, ...], sigma: float, seed: int, frame_index: int) -> np.ndarray:
    """Noise for one frame: float32 array of ``shape`` drawn from ``N(0, σ/255)``."""
    rng = np.random.default_rng([seed, frame_index])
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma / 255.0)).astype(np.float32)


def add_awgn_frame(frame: np.ndarray, sigma: float, seed: int, frame_index: int) -> np.ndarray:
    """``frame`` (H, W, C) float32 in [0, 1] plus AWGN of σ (0–255 scale); unclipped."""
    return (frame.astype(np.float32, copy=False) + awgn_noise(frame.shape, sigma, seed, frame_index)).astype(
        np.float32
    )


def add_awgn(frames: np.ndarray, sigma: float, seed: int, start_index: int = 0) -> np.ndarray:
    """``frames`` (T, H, W, C) float32 in [0, 1] plus AWGN; frame ``t`` gets the noise of index ``start_index + t``."""
    return np.stack([add_awgn_frame(f, sigma, seed, start_index + t) for t, f in enumerate(frames)])


def sample_training_sigma(batch: int, generator: torch.Generator, low: float = 5.0, high: float = 55.0) -> torch.Tensor:
    """σ ~ U[low, high] on the [0, 255] scale, one per clip: tensor (batch,)."""
    return low + (high - low) * torch.rand(batch, generator=generator)


def add_training_noise(clean: torch.Tensor, sigma255: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``clean`` (N, T, C, H, W) in [0, 1] plus N(0, σ/255) per clip; unclipped."""
    noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype)
    return clean + noise * (sigma255 / 255.0).view(-1, *([1] * (clean.dim() - 1))).to(clean.dtype)


def noise_map(sigma255: float | torch.Tensor, *, height: int, width: int,
              device: str | torch.device = "cpu") -> torch.Tensor:
    """Noise map ``(N, 1, H, W)`` float32 of σ/255 (σ on the [0, 255] scale): a float gives ``N = 1``,
    a tensor ``(N,)`` one σ per clip."""
    sig = torch.as_tensor(sigma255, dtype=torch.float32).reshape(-1, 1, 1, 1) / 255.0
    return sig.expand(-1, 1, height, width).to(device)
