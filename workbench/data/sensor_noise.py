"""The sensors' Poisson–Gaussian noise, sampled with numpy and seeded (docs/protocols.md §2.2).

It lives in the data layer because the embedded raw test set is noised once, at build time, like a captured
set (:mod:`workbench.data.embedded_raw`); :mod:`workbench.degrade.raw_noise` re-exports it beside the
training noise and the noise maps. Model, on normalised values ``x_n = (x − black) / (white − black)``
(RViDeNet ``utils.generate_noisy_raw`` written in DN)::

    noisy_n = Poisson(max(x_n, 0) / a_n) · a_n + sqrt(b_n) · N(0, 1),   clipped to [−black / (white − black), 1]

so ``Var = a_n · x_n + b_n`` away from the clipping bounds (``a_n``, ``b_n``: :meth:`NoiseParams.normalized`).
The seed derives from ``(dataset, sequence, ISO)`` and frame ``t``'s noise depends only on ``(seed, t)``.
"""

from __future__ import annotations

import hashlib

import numpy as np

from workbench.data.sensors import CRVD, Sensor


def raw_noise_seed(dataset: str, sequence: str, iso: int) -> int:
    """A 63-bit seed from ``(dataset, sequence, ISO)``."""
    key = f"raw-pg/{dataset}/{sequence}/{int(iso)}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") & (2**63 - 1)


def normalized_params(iso: int, sensor: Sensor = CRVD) -> tuple[float, float]:
    """``(a_n, b_n)`` of ``iso`` in normalised units."""
    return sensor.noise_at(iso).normalized(sensor.black, sensor.white)


def noise_floor(sensor: Sensor = CRVD) -> float:
    """The normalised value of DN 0 (the lower clipping bound): ``−black / (white − black)``."""
    return -sensor.black / (sensor.white - sensor.black)


def add_raw_noise_frame(clean: np.ndarray, iso: int, seed: int, frame_index: int,
                        sensor: Sensor = CRVD) -> np.ndarray:
    """``clean`` (any shape, normalised float) → noisy normalised float32 of ``iso`` (formula above)."""
    a_n, b_n = normalized_params(iso, sensor)
    rng = np.random.default_rng([seed, frame_index])
    x = np.asarray(clean, dtype=np.float64)
    shot = rng.poisson(np.maximum(x, 0.0) / a_n) * a_n
    read = np.sqrt(b_n) * rng.standard_normal(x.shape)
    return np.clip(shot + read, noise_floor(sensor), 1.0).astype(np.float32)
