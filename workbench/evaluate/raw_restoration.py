"""Evaluate one model on paired raw video (CRVD, the embedded raw clips) under RViDeNet's protocol
(docs/protocols.md §2.4; metrics :mod:`workbench.evaluate.raw_metrics`).

Per (scene, ISO) sequence: the noisy capture ``noisy0`` (packed, normalised, floored at 0) is restored by
streaming inference (:mod:`workbench.evaluate.infer`: window models reflect indices at the borders,
recurrent models carry their state; whole frames, no tiling) with the ISO's ``[a_n, b_n]`` planes as
the noise map of non-blind models; every output frame is scored against the unclipped ground truth.

Rows (long format): ``level = "sequence"`` per (scene, ISO, metric), sequence ``scene<s>-ISO<iso>`` and setting
``raw`` (every scene has every ISO, so the mean of these cells is the headline: the claims' intervals read
them); ``level = "iso"`` per (ISO, metric) with setting ``ISO<iso>``: the mean over scenes;
``level = "dataset"`` with setting ``raw``: the mean over ISOs (Table 2's number). Every row carries the
:class:`~workbench.evaluate.raw_metrics.RawProtocol` card and ``temporal_border``. With ``evaluate.srgb`` the
sRGB metrics (:mod:`workbench.evaluate.raw_srgb`) come as ``psnr_srgb_db`` and ``ssim_srgb`` rows beside the raw ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workbench.data.crvd import CRVDSequence, split_stacked
from workbench.data.sensors import CRVD_ISOS
from workbench.errors import ConfigError, DatasetError
from workbench.evaluate.infer import restore_stream
from workbench.evaluate.raw_metrics import RawProtocol, average_crvd, raw_frame_metrics
from workbench.evaluate.raw_srgb import ISPNet, srgb_frame_metrics
from workbench.models.base import RestorationModel


@dataclass
class RawEvalSpec:
    """The raw evaluation protocol of a cell: dataset, frames per sequence (CRVD: 7), ISOs, scenes."""

    dataset: str = "embedded-raw-test"
    max_frames: int | None = 7
    max_sequences: int | None = None
    #: evaluate only these ISOs (None = all five); recorded in every row
    isos: list[int] | None = None
    #: also score sRGB PSNR/SSIM through RViDeNet's ISP (needs its converted weights, :mod:`.raw_srgb`)
    srgb: bool = False

    def validate(self) -> None:
        for key, value in (("max_frames", self.max_frames), ("max_sequences", self.max_sequences)):
            if value is not None and value < 1:
                raise ConfigError(f"{key}: must be at least 1 or null, got {value}")
        if self.isos is not None:
            unknown = sorted(set(self.isos) - set(CRVD_ISOS))
            if not self.isos or unknown:
                raise ConfigError(f"isos: {unknown or 'empty'}; use CRVD ISOs {list(CRVD_ISOS)} or null")


def select(seqs: list[Any], spec: RawEvalSpec) -> list[CRVDSequence]:
    """The paired sequences of ``spec`` (ISOs kept, then the first ``max_sequences`` scenes per ISO)."""
    pairs = [s for s in seqs if isinstance(s, CRVDSequence)]
    if len(pairs) != len(seqs):
        raise DatasetError(f"{spec.dataset}: not a paired raw dataset (CRVD layout); use crvd, embedded-raw-test "
                           "or embedded-mini-raw-test")
    pairs = [s for s in pairs if spec.isos is None or s.iso in spec.isos]
    if spec.max_sequences:
        scenes = sorted({s.scene for s in pairs})[: spec.max_sequences]
        pairs = [s for s in pairs if s.scene in scenes]
    return pairs


def _noise_fn(params: np.ndarray, device: str) -> Any:
    a_n, b_n = float(params[0, 0, 0]), float(params[0, 0, 1])

    def fn(x: torch.Tensor) -> torch.Tensor:  # x: a frame (N, C, H, W) or a window (N, T, C, H, W)
        n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
        plane = torch.tensor([a_n, b_n], dtype=torch.float32, device=device).view(1, 2, 1, 1)
        return plane.expand(n, 2, h, w)

    return fn


def restore_pair(model: RestorationModel, seq: CRVDSequence, device: str,
                 isp: ISPNet | None = None) -> list[dict[str, float]]:
    """Per-frame raw metrics (and sRGB ones through ``isp``) of ``model`` on one (scene, ISO) sequence."""
    first = seq.frame(0)
    noise_fn = _noise_fn(split_stacked(first)[2], device) if model.uses_noise_map else None
    cache = {0: first}

    def stacked(i: int) -> np.ndarray:  # a sequence is 7 frames: keep them all
        if i not in cache:
            cache[i] = seq.frame(i)
        return cache[i]

    frames = []
    for t, out in restore_stream(model, lambda i: np.ascontiguousarray(split_stacked(stacked(i))[0]), len(seq),
                                 device=device, noise_map_fn=noise_fn):
        clean = split_stacked(stacked(t))[1]
        metrics = raw_frame_metrics(clean, out, seq.sensor)
        if isp is not None:
            metrics.update(srgb_frame_metrics(isp, clean, out, device=device, sensor=seq.sensor))
        frames.append(metrics)
    return frames


def evaluate_raw_model(model: RestorationModel, seqs: list[CRVDSequence], *, dataset: str,
                       spec: RawEvalSpec, device: str, isp: ISPNet | None = None) -> list[dict[str, Any]]:
    """Long-format rows (module docstring); with ``isp`` also ``psnr_srgb_db`` and ``ssim_srgb``."""
    if not seqs:
        raise DatasetError(f"{dataset}: no raw sequence to evaluate; check evaluate.isos and max_sequences")
    srgb = "RViDeNet ISP_CNN (uint8 truncation, skimage SSIM 7x7)" if isp is not None else RawProtocol.srgb
    card = {**RawProtocol(frames_per_sequence=spec.max_frames, srgb=srgb).card(),
            "temporal_border": "reflect (window models); state carried (recurrent)",
            "isos": "+".join(str(i) for i in sorted({s.iso for s in seqs}))}
    per_seq: dict[tuple[str, int], dict[str, float]] = {}
    rows: list[dict[str, Any]] = []
    for seq in seqs:
        frames = restore_pair(model, seq, device, isp)
        mean = {k: float(np.mean([f[k] for f in frames])) for k in frames[0]}
        per_seq[(f"scene{seq.scene}", seq.iso)] = mean
        rows += [{"level": "sequence", "sequence": f"scene{seq.scene}-ISO{seq.iso}", "setting": "raw",
                  "scene": f"scene{seq.scene}", "iso": seq.iso, "metric": k, "value": v, "frames": len(frames),
                  **card} for k, v in mean.items()]
    by_iso = average_crvd(per_seq)
    for iso, metrics in by_iso.items():
        rows += [{"level": "iso", "sequence": "", "setting": f"ISO{iso}", "metric": k, "value": v, "frames": "",
                  **card} for k, v in metrics.items()]
    for metric in next(iter(by_iso.values())):
        rows.append({"level": "dataset", "sequence": "", "setting": "raw", "metric": metric,
                     "value": float(np.mean([m[metric] for m in by_iso.values()])), "frames": "", **card})
    return rows
