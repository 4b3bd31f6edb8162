"""Fig. 7 study: the same crop of one restored frame across methods, with its PSNR.

The method restores the protocol's noisy sequence (AWGN seeded from (dataset, sequence, σ), the frames the
tables score) by streaming inference (:mod:`workbench.evaluate.infer`); frame ``frame`` (−1 = the last of
``max_frames``) is cropped to ``crop_size`` at ``crop_yx`` (top-left; ``None`` = centred). Rows (``level``
``crop`` and ``frame``): ``psnr_db`` and ``ssim`` under the tables' protocol (output clamped to [0, 1],
float, RGB). The crops are returned as float32 ``(h, w, 3)`` arrays: ``restored``, ``clean``, ``noisy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.data.sequence import Sequence
from workbench.evaluate.analysis.streams import noisy_frames, realisation_seed
from workbench.evaluate.infer import restore_stream
from workbench.evaluate.metrics import frame_metrics
from workbench.models.base import RestorationModel


@dataclass
class CropStudy:
    """Parameters of the Fig. 7 study (σ on the 0–255 scale)."""

    dataset: str = "embedded-test"
    #: "" = the dataset's first sequence
    sequence: str = ""
    sigma: float = 50.0
    max_frames: int = 5
    frame: int = -1
    crop_size: int = 64
    crop_yx: list[int] | None = None


def crop_box(shape: tuple[int, int], size: int, yx: list[int] | None) -> tuple[int, int, int, int]:
    """``(y, x, h, w)`` of the crop inside a frame of ``shape`` (clipped to the frame)."""
    h, w = min(size, shape[0]), min(size, shape[1])
    y, x = yx if yx is not None else ((shape[0] - h) // 2, (shape[1] - w) // 2)
    y, x = min(max(0, y), shape[0] - h), min(max(0, x), shape[1] - w)
    return y, x, h, w


def restored_frame(model: RestorationModel, noisy: Any, num_frames: int, index: int, *, sigma: float,
                   device: str) -> np.ndarray:
    noise = sigma if model.uses_noise_map else None
    for t, out in restore_stream(model, noisy, num_frames, noise_sigma=noise, device=device):
        if t == index:
            return out
    raise IndexError(f"frame {index} outside a sequence of {num_frames}")


def crop_study(model: RestorationModel, seq: Sequence, *, dataset: str, p: CropStudy, device: str
               ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], tuple[int, int, int, int]]:
    """``(rows, crops, (y, x, h, w))``; see the module docstring."""
    index = p.frame % len(seq)
    noisy = noisy_frames(dataset, seq, p.sigma, 0)
    out = restored_frame(model, noisy, len(seq), index, sigma=p.sigma, device=device)
    clean = seq.frame(index)
    y, x, h, w = crop_box(clean.shape[:2], p.crop_size, p.crop_yx)
    cut = (slice(y, y + h), slice(x, x + w))
    base = {"sequence": seq.name, "setting": f"sigma={p.sigma:g}", "frame": index, "crop": f"{y},{x},{h},{w}",
            "noise_seed": realisation_seed(dataset, seq, p.sigma, 0)}
    rows = [{**base, "level": level, "metric": k, "value": v}
            for level, (c, o) in (("crop", (clean[cut], out[cut])), ("frame", (clean, out)))
            for k, v in frame_metrics(c, o).items()]
    crops = {"restored": np.clip(out[cut], 0, 1), "clean": clean[cut], "noisy": np.clip(noisy(index)[cut], 0, 1)}
    return rows, crops, (y, x, h, w)
