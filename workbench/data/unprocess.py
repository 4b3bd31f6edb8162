"""sRGB → raw unprocessing (SRVD, the embedded raw clips) and the forward pipeline that inverts it.

The unprocessing is RViDeNet's fixed-parameter variant of Brooks et al., "Unprocessing Images for Learned
Raw Denoising" (CVPR 2019), as in cao-cong/RViDeNet@4615032b01 ``inverse_isp.py`` / ``sRGB_to_raw.py``
(docs/protocols.md §2.3). Steps on an sRGB image ``(H, W, 3)`` in [0, 1] (float64 here):

1. inverse smoothstep ``0.5 − sin(asin(1 − 2x) / 3)`` (input clipped to [0, 1]);
2. gamma expansion ``max(x, 1e-8) ^ 2.2``;
3. colour: ``rgb2cam = normalise_rows(inv(cam2xyz) · rgb2xyz)`` with the fixed ``cam2xyz`` below and
   sRGB's D65 ``rgb2xyz``; applied per pixel as ``x · rgb2camᵀ``;
4. inverse white balance: gains ``[1/red_gain, 1, 1/blue_gain] / rgb_gain`` (rgb_gain 1, red_gain
   1/0.5527, blue_gain 1/0.4844), softened near white by Brooks' mask ``(max(gray − 0.9, 0) / 0.1)²``
   (``safe_invert_gains``);
5. clip to [0, 1]; 6. Bayer mosaic (GBRG for CRVD/SRVD); 7. to 12-bit DN ``uint16(x · (white − black) +
   black)`` (truncation, as ``np.uint16`` does in ``sRGB_to_raw.py``).

:func:`process` is the forward pipeline on the 3-channel camera image (steps 4 → 1 inverted: gains,
``cam2rgb = inv(rgb2cam)``, clip, gamma compression ``x ^ (1/2.2)``, smoothstep ``3x² − 2x³``).
``process(unprocess(x)) == x`` up to float error where neither clip of step 5 nor the near-white mask was
active (:func:`unprocess` returns that mask); tests/data/test_data_unprocess.py states the tolerances.
"""

from __future__ import annotations

import numpy as np

from workbench.data.raw import PATTERNS
from workbench.data.sensors import CRVD, Sensor

#: camera → XYZ of the fixed CCM (RViDeNet ``inverse_isp.ccm``)
CAM2XYZ = np.array([[0.4679, 0.2145, 0.3176], [0.1433, 0.8236, 0.0331], [0.0003, -0.3607, 1.3604]])
#: linear sRGB → XYZ (D65)
RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]])
RGB_GAIN, RED_GAIN, BLUE_GAIN = 1.0, 1.0 / 0.5527, 1.0 / 0.4844
GAMMA = 2.2
INFLECTION = 0.9


def rgb2cam() -> np.ndarray:
    """The 3×3 linear-RGB → camera matrix, rows summing to 1."""
    m = np.linalg.inv(CAM2XYZ) @ RGB2XYZ
    return m / m.sum(axis=-1, keepdims=True)


def _gains() -> np.ndarray:
    return np.array([1.0 / RED_GAIN, 1.0, 1.0 / BLUE_GAIN]) / RGB_GAIN


def unprocess(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sRGB ``(H, W, 3)`` in [0, 1] → (linear camera RGB ``(H, W, 3)`` in [0, 1], exact ``(H, W)`` bool):
    ``exact`` is True where no clip and no near-white mask acted, so :func:`process` inverts it."""
    x = np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0)
    x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * x) / 3.0)
    x = np.maximum(x, 1e-8) ** GAMMA
    x = x @ rgb2cam().T
    gray = x.mean(axis=-1, keepdims=True)
    mask = (np.maximum(gray - INFLECTION, 0.0) / (1.0 - INFLECTION)) ** 2.0
    gains = _gains()
    x = x * np.maximum(mask + (1.0 - mask) * gains, gains)
    exact = (mask[..., 0] == 0) & np.all((x >= 0.0) & (x <= 1.0), axis=-1)
    return np.clip(x, 0.0, 1.0), exact


def process(cam: np.ndarray) -> np.ndarray:
    """Linear camera RGB ``(H, W, 3)`` → sRGB in [0, 1] (the inverse of :func:`unprocess` where exact)."""
    x = np.asarray(cam, dtype=np.float64) / _gains()
    x = np.clip(x @ np.linalg.inv(rgb2cam()).T, 0.0, 1.0)
    x = np.maximum(x, 1e-8) ** (1.0 / GAMMA)
    return np.clip(3.0 * x**2 - 2.0 * x**3, 0.0, 1.0)


def mosaic(cam: np.ndarray, pattern: str = "GBRG") -> np.ndarray:
    """``(H, W, 3)`` → Bayer mosaic ``(H, W)`` of ``pattern`` (the colour of pixel (i, j) is
    ``pattern[2·(i mod 2) + (j mod 2)]``); H and W even."""
    if pattern not in PATTERNS:
        raise ValueError(f"unknown Bayer pattern {pattern!r}; known: {', '.join(PATTERNS)}")
    h, w, _ = cam.shape
    if h % 2 or w % 2:
        raise ValueError(f"mosaic needs even H and W, got {h}x{w}")
    index = np.array([["RGB".index(c) for c in pattern[:2]], ["RGB".index(c) for c in pattern[2:]]])
    colour = np.tile(index, (h // 2, w // 2))
    return np.take_along_axis(cam, colour[..., None], axis=-1)[..., 0]


def to_dn(normalized: np.ndarray, sensor: Sensor = CRVD) -> np.ndarray:
    """Normalised [0, 1] → uint16 DN ``uint16(x · (white − black) + black)`` (truncation)."""
    return (np.asarray(normalized, dtype=np.float64) * (sensor.white - sensor.black) + sensor.black).astype(np.uint16)


def srgb_to_raw_dn(rgb: np.ndarray, sensor: Sensor = CRVD) -> np.ndarray:
    """sRGB ``(H, W, 3)`` in [0, 1] → the sensor's Bayer mosaic in DN ``(H, W)`` uint16 (steps 1–7)."""
    cam, _ = unprocess(rgb)
    return to_dn(mosaic(cam, sensor.pattern), sensor)
