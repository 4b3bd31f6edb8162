"""PSNR and SSIM on RGB frames in [0, 1] and the averaging protocol (docs/protocols.md §1.4).

Defaults follow FastDVDNet / FloRNN: float32 RGB, data range 1.0, no border crop, the restored frame
clamped to [0, 1], no uint8 rounding; SSIM with an 11×11 Gaussian window (σ = 1.5), K1 = 0.01,
K2 = 0.03, population covariance, averaged over the 3 channels (scikit-image). Averaging: per frame →
mean per sequence → mean over sequences. Every result row carries the :class:`Protocol` card.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np
from skimage.metrics import structural_similarity


@dataclass(frozen=True)
class Protocol:
    """How a metric was computed; recorded as columns ``protocol_*`` of every result row."""

    frames_per_sequence: int | None = 85
    averaging: str = "frame>sequence>dataset"
    channel: Literal["rgb", "y"] = "rgb"
    crop_border: int = 0
    clip_output: bool = True
    rounding: Literal["none", "uint8"] = "none"
    ssim: str = "skimage-gaussian11-sigma1.5"
    #: also report ``psnr_clamped_db`` (output clamped to [0, 1]) beside an unclamped ``psnr_db``: the
    #: noisy-input floor, whose ``psnr_db`` follows FastDVDNet's test script (PSNR-noisy unclamped)
    also_clamped: bool = False

    def card(self) -> dict[str, object]:
        return {f"protocol_{k}": ("all" if v is None else v) for k, v in asdict(self).items()}


def _prepare(x: np.ndarray, protocol: Protocol, *, is_output: bool) -> np.ndarray:
    x = x.astype(np.float64, copy=False)
    if is_output and protocol.clip_output:
        x = np.clip(x, 0.0, 1.0)
    if protocol.rounding == "uint8":
        x = np.round(np.clip(x, 0.0, 1.0) * 255.0) / 255.0
    if protocol.channel == "y":
        x = rgb_to_y(x)[..., None]
    b = protocol.crop_border
    if b:
        x = x[b:-b, b:-b]
    return x


#: MATLAB ``rgb2ycbcr`` luma row (BT.601, studio swing) for R, G, B in [0, 1]: Y = 16 + 65.481 R + 128.553 G
#: + 24.966 B on the [0, 255] scale (white → 235, black → 16)
Y_OFFSET, Y_WEIGHTS = 16.0, (65.481, 128.553, 24.966)


def rgb_to_y(x: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB ``(..., 3)`` in [0, 1] as MATLAB's ``rgb2ycbcr`` computes it, scaled back to [0, 1]
    (``Y_255 / 255``, so white is 235/255 and black 16/255); float64 ``(...)``, not rounded. The deraining
    convention of S2VD and the VDMamba family (docs/protocols.md §3)."""
    x = np.asarray(x, dtype=np.float64)
    r, g, b = Y_WEIGHTS
    return (Y_OFFSET + r * x[..., 0] + g * x[..., 1] + b * x[..., 2]) / 255.0


def psnr(clean: np.ndarray, test: np.ndarray, data_range: float = 1.0) -> float:
    """PSNR in dB of ``test`` against ``clean`` (same shape, float); ``inf`` when identical."""
    mse = float(np.mean((clean.astype(np.float64) - test.astype(np.float64)) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def ssim(clean: np.ndarray, test: np.ndarray, data_range: float = 1.0) -> float:
    """SSIM of (H, W, C) float frames: Gaussian 11×11 window σ = 1.5, mean over channels."""
    return float(
        structural_similarity(
            clean.astype(np.float64),
            test.astype(np.float64),
            data_range=data_range,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def frame_metrics(clean: np.ndarray, restored: np.ndarray, protocol: Protocol = Protocol()) -> dict[str, float]:
    """``{"psnr_db": ..., "ssim": ...}`` for one (H, W, C) frame pair under ``protocol`` (plus
    ``psnr_clamped_db`` when ``protocol.also_clamped``)."""
    c = _prepare(clean, protocol, is_output=False)
    r = _prepare(restored, protocol, is_output=True)
    out = {"psnr_db": psnr(c, r), "ssim": ssim(c, r)}
    if protocol.also_clamped:
        clamped = replace(protocol, clip_output=True, also_clamped=False)
        out["psnr_clamped_db"] = psnr(c, _prepare(restored, clamped, is_output=True))
    return out


def average_frames(per_frame: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over the frames of one sequence."""
    keys = per_frame[0].keys() if per_frame else []
    return {k: float(np.mean([m[k] for m in per_frame])) for k in keys}
