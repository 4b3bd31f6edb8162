"""Raw PSNR and SSIM on CRVD exactly as RViDeNet's ``test_indoor.py`` computes them (docs/protocols.md §2.4).

Per frame, on the full-resolution Bayer mosaic ``(H, W)`` in normalised units ``(x − black) / (white − black)``:

- the prediction is clipped to [0, 1] (``utils.postprocess``), de-normalised and cast to ``uint16``
  (``np.uint16(out · (white − black) + black)``: truncation to an integer DN), then re-normalised;
- the ground truth is normalised and **not** clipped;
- PSNR = ``10 log10(1 / MSE)`` over the mosaic (``skimage compare_psnr(data_range=1.0)``);
- SSIM = mean over the 4 packed planes (GBRG → ``[R, G_r, B, G_b]``, the plane order does not change the mean)
  of scikit-image's SSIM with its defaults (``compare_ssim(data_range=1.0)``: 7×7 uniform window, sample
  covariance, K1 = 0.01, K2 = 0.03, mean over the map without its 3-pixel border).

Averaging (:func:`average_crvd`): frames (7) → scenes (7–11) → one value per ISO; the headline is the mean
over the 5 ISOs. sRGB metrics need RViDeNet's ISP network (``isp/ISP_CNN.pth``); without its weights they
are absent from the results, never computed with another ISP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from skimage.metrics import structural_similarity

from workbench.data.raw import pack_bayer, unpack_bayer
from workbench.data.sensors import CRVD, Sensor


@dataclass(frozen=True)
class RawProtocol:
    """How the raw metrics were computed; recorded as ``protocol_*`` columns of every row."""

    frames_per_sequence: int | None = 7
    averaging: str = "frame>scene>iso>mean-over-iso"
    domain: str = "raw-bayer-normalised"
    prediction: str = "clip01>uint16-truncate"
    ground_truth: str = "normalised-unclipped"
    ssim: str = "skimage-uniform7-per-packed-plane"
    srgb: str = "absent (needs RViDeNet ISP_CNN weights)"

    def card(self) -> dict[str, object]:
        return {f"protocol_{k}": ("all" if v is None else v) for k, v in asdict(self).items()}


def quantize_prediction(pred: np.ndarray, sensor: Sensor = CRVD) -> np.ndarray:
    """Normalised prediction → clipped, truncated to integer DN, re-normalised in float32 (as the script)."""
    span = sensor.white - sensor.black
    dn = (np.clip(np.asarray(pred, dtype=np.float64), 0.0, 1.0) * span + sensor.black).astype(np.uint16)
    return (dn.astype(np.float32) - np.float32(sensor.black)) / np.float32(span)


def raw_psnr(gt: np.ndarray, pred_q: np.ndarray) -> float:
    """PSNR (data range 1) of float32 mosaics; the difference in float32, its mean square in float64
    (``compare_psnr`` of two float32 arrays)."""
    diff = np.asarray(gt, np.float32) - np.asarray(pred_q, np.float32)
    mse = float(np.mean(np.square(diff), dtype=np.float64))
    return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


def raw_ssim(gt: np.ndarray, pred_q: np.ndarray, pattern: str = "GBRG") -> float:
    """Mean SSIM of the 4 packed planes of two mosaics ``(H, W)``, in float64 (``compare_ssim`` casts)."""
    a = pack_bayer(np.asarray(gt, np.float32), pattern).astype(np.float64)
    b = pack_bayer(np.asarray(pred_q, np.float32), pattern).astype(np.float64)
    return float(np.mean([structural_similarity(a[..., k], b[..., k], data_range=1.0) for k in range(4)]))


def raw_frame_metrics(gt_packed: np.ndarray, pred_packed: np.ndarray, sensor: Sensor = CRVD) -> dict[str, float]:
    """``{"psnr_db", "ssim"}`` of one frame from packed ``(H/2, W/2, 4)`` normalised arrays."""
    gt = unpack_bayer(np.asarray(gt_packed, np.float32), sensor.pattern)
    pred = quantize_prediction(unpack_bayer(np.asarray(pred_packed, np.float32), sensor.pattern), sensor)
    return {"psnr_db": raw_psnr(gt, pred), "ssim": raw_ssim(gt, pred, sensor.pattern)}


def average_crvd(per_sequence: dict[tuple[str, int], dict[str, float]]) -> dict[int, dict[str, float]]:
    """``{(scene, iso): frame-mean metrics}`` → ``{iso: scene-mean metrics}`` (scenes weighted equally)."""
    out: dict[int, dict[str, float]] = {}
    for iso in sorted({iso for _, iso in per_sequence}):
        rows = [m for (_, i), m in per_sequence.items() if i == iso]
        out[iso] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return out
