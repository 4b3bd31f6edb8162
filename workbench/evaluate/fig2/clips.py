"""Codec inputs and metrics of the motivation study.

Input: clean frames ``(T, H, W, 3)`` float32 in [0, 1] (cropped to even H, W for 4:2:0), AWGN of σ
(unclipped, :mod:`workbench.degrade.awgn`), then **clipped to [0, 1] and rounded to 8 bits** — a codec
takes 8-bit input; both codecs get this same clip, which is also the "noisy" reference.

Metrics (per frame, then mean per sequence): ``psnr_db`` and ``ssim`` on RGB (reconstruction clamped
to [0, 1], float, no rounding: the DCVC test protocol), ``psnr_y_db`` on ``Y' = Kr·R + Kg·G + Kb·B`` of the
declared matrix (same clamped RGB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.codec.colour import ColourSpec, luma
from workbench.data.sequence import Sequence
from workbench.degrade.awgn import add_awgn, noise_seed
from workbench.evaluate.metrics import psnr, ssim

CODEC_INPUT = "awgn(unclipped) -> clip[0,1] -> round to uint8 RGB"


@dataclass
class NoisyClip:
    """One (sequence, σ): clean and 8-bit noisy frames ``(T, H, W, 3)`` float32 in [0, 1]."""

    sequence: str
    sigma: float
    seed: int
    clean: np.ndarray
    noisy: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        t, h, w, _ = self.clean.shape
        return t, h, w


def quantise_rgb8(frames: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to the nearest 8-bit level, returned as float32 in [0, 1]."""
    return (np.rint(np.clip(frames, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def load_clean(seq: Sequence) -> np.ndarray:
    """All frames of ``seq`` as ``(T, H, W, 3)`` float32, cropped to even height and width."""
    frames = np.stack(list(seq.frames()))
    t, h, w, _ = frames.shape
    return np.ascontiguousarray(frames[:, : h - h % 2, : w - w % 2, :3])


def make_clips(seqs: list[Sequence], *, dataset: str, sigmas: list[float]) -> list[NoisyClip]:
    clips = []
    for seq in seqs:
        clean = load_clean(seq)
        for sigma in sigmas:
            seed = noise_seed(dataset, seq.name, sigma)
            noisy = quantise_rgb8(add_awgn(clean, sigma, seed))
            clips.append(NoisyClip(sequence=seq.name, sigma=float(sigma), seed=seed, clean=clean, noisy=noisy))
    return clips


def clip_metrics(recon: np.ndarray, reference: np.ndarray, spec: ColourSpec) -> dict[str, float]:
    """Mean over frames of ``psnr_db``, ``psnr_y_db`` and ``ssim`` of ``recon`` against ``reference``."""
    per: dict[str, list[float]] = {"psnr_db": [], "psnr_y_db": [], "ssim": []}
    for r, ref in zip(recon, reference):
        r = np.clip(r, 0.0, 1.0)
        per["psnr_db"].append(psnr(ref, r))
        per["psnr_y_db"].append(psnr(luma(ref, spec), luma(r, spec)))
        per["ssim"].append(ssim(ref, r))
    return {k: float(np.mean(v)) for k, v in per.items()}


def centre_crop_box(h: int, w: int, size: int) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of the centred ``size × size`` crop (smaller if the frame is)."""
    ch, cw = min(size, h), min(size, w)
    return (h - ch) // 2, (w - cw) // 2, ch, cw
