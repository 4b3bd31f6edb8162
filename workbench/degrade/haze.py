"""Synthetic haze by the atmospheric scattering model, pure and seeded (the embedded dehazing splits).

Model (Koschmieder; the model REVIDE's CG-IDN and the dehazing literature assume, docs/protocols.md §4)::

    I = J · t + A · (1 − t),    t = exp(−β · d)

``J`` the clean frame ``(H, W, 3)`` float32 RGB in [0, 1], ``A`` the atmospheric light (grey, in [0, 1]),
``β`` the scattering coefficient (per unit depth), ``d`` the depth ``(H, W)`` in the same unit, ``t`` the
transmission in (0, 1]. The output stays in [0, 1] when ``J`` and ``A`` do (a convex combination).

Depth proxy **[choice]** (the embedded clips have no depth): a ground-plane ramp, far at the top row and
near at the bottom row, ``d(y) = far + (near − far) · y / (H − 1)`` (a camera looking at the horizon:
upper image rows are farther away). It depends on the frame size only, so the haze of a sequence is
constant in time, as REVIDE's real haze is over a short clip. REVIDE itself is real haze, not this model:
the embedded splits only stand in for it on a CPU.

Seeding: one draw of ``β`` and ``A`` per sequence from :func:`haze_seed` ``(dataset, sequence)``, so every
frame of a sequence shares them (:func:`draw_haze`); the frames themselves are a deterministic function of
the draw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from workbench.errors import ConfigError


@dataclass(frozen=True)
class HazeParams:
    """Ranges of the per-sequence draw: ``β`` in ``[beta_min, beta_max]`` per unit depth, ``A`` in
    ``[airlight_min, airlight_max]`` (grey, [0, 1] scale); depth proxy from ``far`` (top row) to ``near``
    (bottom row), in units of depth."""

    beta_min: float = 0.8
    beta_max: float = 1.4
    airlight_min: float = 0.75
    airlight_max: float = 0.95
    near: float = 0.3
    far: float = 1.5

    def validate(self) -> None:
        if not 0 <= self.beta_min <= self.beta_max:
            raise ConfigError(f"haze: need 0 <= beta_min <= beta_max, got {self.beta_min}, {self.beta_max}")
        if not 0 <= self.airlight_min <= self.airlight_max <= 1:
            raise ConfigError(f"haze: need 0 <= airlight_min <= airlight_max <= 1, got "
                              f"{self.airlight_min}, {self.airlight_max}")
        if not 0 <= self.near <= self.far:
            raise ConfigError(f"haze: need 0 <= near <= far (depth units), got {self.near}, {self.far}")


@dataclass(frozen=True)
class HazeDraw:
    """The haze of one sequence: scattering coefficient ``beta`` and atmospheric light ``airlight``."""

    beta: float
    airlight: float


def haze_seed(dataset: str, sequence: str) -> int:
    """A 63-bit seed from ``(dataset, sequence)`` (the pattern of :func:`workbench.degrade.awgn.noise_seed`)."""
    key = f"haze/{dataset}/{sequence}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") & (2**63 - 1)


def draw_haze(params: HazeParams, seed: int) -> HazeDraw:
    """``β`` and ``A`` of one sequence, uniform in the ranges of ``params``."""
    rng = np.random.default_rng([seed, 0])
    beta, air = rng.random(2)
    return HazeDraw(beta=float(params.beta_min + (params.beta_max - params.beta_min) * beta),
                    airlight=float(params.airlight_min + (params.airlight_max - params.airlight_min) * air))


def ramp_depth(height: int, width: int, *, near: float, far: float) -> np.ndarray:
    """The ground-plane depth proxy ``(H, W)`` float32: ``far`` on the top row, ``near`` on the bottom row."""
    rows = np.linspace(far, near, height, dtype=np.float64) if height > 1 else np.array([far])
    return np.repeat(rows[:, None], width, axis=1).astype(np.float32)


def transmission(depth: np.ndarray, beta: float) -> np.ndarray:
    """``t = exp(−β · d)``, float32 of ``depth``'s shape."""
    return np.exp(-np.float64(beta) * np.asarray(depth, dtype=np.float64)).astype(np.float32)


def scatter(clean: np.ndarray, trans: np.ndarray, airlight: float) -> np.ndarray:
    """``I = J · t + A · (1 − t)`` for ``clean`` ``(H, W, 3)`` and ``trans`` ``(H, W)``; float32."""
    t = np.asarray(trans, dtype=np.float32)[..., None]
    return (clean.astype(np.float32, copy=False) * t + np.float32(airlight) * (1.0 - t)).astype(np.float32)


def add_haze_frame(frame: np.ndarray, params: HazeParams, seed: int) -> np.ndarray:
    """``frame`` ``(H, W, 3)`` in [0, 1] seen through the haze drawn from ``seed`` (the same for every frame
    of a sequence)."""
    draw = draw_haze(params, seed)
    depth = ramp_depth(frame.shape[0], frame.shape[1], near=params.near, far=params.far)
    return scatter(frame, transmission(depth, draw.beta), draw.airlight)
