"""Evaluate one restoration model on a dataset under the AWGN protocol of Table 1 (docs/protocols.md §1).

For each σ (0–255 scale) and sequence: AWGN seeded from (dataset, sequence, σ) (:mod:`workbench.degrade.awgn`),
streaming restoration (:mod:`workbench.evaluate.infer`), per-frame PSNR/SSIM under the pinned protocol card
(:mod:`workbench.evaluate.metrics`), averaged frame → sequence → dataset.

Rows: one per (σ, sequence, metric) with ``level = "sequence"`` and one per (σ, metric) with
``level = "dataset"`` (the mean over sequences of per-sequence means), each with the protocol card, the
noise seed rule and, for clip (bi-directional) models, the evaluation rule.
"""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from workbench.data.sequence import Sequence, require_length
from workbench.degrade.awgn import add_awgn_frame, noise_seed
from workbench.errors import ConfigError, DatasetError
from workbench.evaluate.infer import chunking_rule, restore_stream
from workbench.evaluate.metrics import Protocol, average_frames, frame_metrics
from workbench.models.base import RestorationModel


@dataclass
class EvalSpec:
    """The evaluation protocol of a restoration cell (σ on the [0, 255] scale)."""

    dataset: str = "embedded-test"
    sigmas: list[float] = field(default_factory=lambda: [10.0, 20.0, 30.0, 40.0, 50.0])
    max_frames: int | None = 85
    max_sequences: int | None = None
    #: clip (bi-directional) models: None = the whole sequence in one pass (default); N = chunks of N
    #: output frames with ``chunk_overlap`` context frames each side, only to bound memory
    chunk_len: int | None = None
    chunk_overlap: int = 2
    crop_border: int = 0
    rounding: Literal["none", "uint8"] = "none"
    clip_output: bool = True
    #: evaluate only these sequences of ``dataset`` (None = all); recorded in the ``subset`` column
    sequences: list[str] | None = None

    def validate(self) -> None:
        """Range and meaning of every key; raises :class:`ConfigError` naming the key."""
        validate_sigmas("sigmas", self.sigmas)
        for key, value in (("max_frames", self.max_frames), ("max_sequences", self.max_sequences),
                           ("chunk_len", self.chunk_len)):
            if value is not None and value < 1:
                raise ConfigError(f"{key}: must be at least 1 or null, got {value}")
        for key, value in (("chunk_overlap", self.chunk_overlap), ("crop_border", self.crop_border)):
            if value < 0:
                raise ConfigError(f"{key}: must be 0 or more, got {value}")
        if self.sequences is not None:
            if not self.sequences:
                raise ConfigError("sequences: an empty list evaluates nothing; list sequence names or use null (all)")
            if len(set(self.sequences)) != len(self.sequences):
                raise ConfigError(f"sequences: names repeat in {self.sequences}")


def validate_sigmas(key: str, sigmas: list[float]) -> None:
    """A non-empty list of finite σ > 0 (0–255 scale); raises :class:`ConfigError` naming ``key``."""
    if not sigmas:
        raise ConfigError(f"{key}: an empty list evaluates nothing; give at least one noise σ (0–255 scale)")
    for s in sigmas:
        if not math.isfinite(s) or s <= 0:
            raise ConfigError(f"{key}: noise σ must be finite and > 0 (0–255 scale), got {s}")


def progress_wanted() -> bool:
    """Progress bars only on a terminal and at the default or verbose log level (``-q`` turns them off)."""
    return sys.stderr.isatty() and logging.getLogger("workbench").isEnabledFor(logging.INFO)


def subset_columns(selected: list[str] | None, total: int) -> dict[str, Any]:
    """``subset`` (``"all"`` or the evaluated names joined by ``+``) and ``subset_size`` (``"4 of 8"``)."""
    if not selected:
        return {"subset": "all", "subset_size": f"{total} of {total}"}
    return {"subset": "+".join(selected), "subset_size": f"{len(selected)} of {total}"}


def protocol_for(model: RestorationModel, spec: EvalSpec) -> Protocol:
    """The protocol card of ``model``'s rows. The noisy-input floor is scored as the official FastDVDNet
    script scores PSNR-noisy (``test_fastdvdnet.py``: the unclamped noisy frame), with the clamped PSNR as
    the second metric ``psnr_clamped_db``; every other model is scored with its output clamped."""
    unclamped = bool(getattr(model, "scores_unclamped", False))
    return Protocol(frames_per_sequence=spec.max_frames, crop_border=spec.crop_border, rounding=spec.rounding,
                    clip_output=spec.clip_output and not unclamped, also_clamped=unclamped)


def evaluate_model(model: RestorationModel, seqs: list[Sequence], *, dataset: str, spec: EvalSpec,
                   device: str, subset: dict[str, Any] | None = None,
                   progress: bool = False) -> list[dict[str, Any]]:
    """Long-format rows (``level``, ``sequence``, ``setting``, ``metric``, ``value``, ``frames``, …).

    ``subset`` (:func:`subset_columns`) goes into every row; sequences shorter than the model's window are
    refused by name before any frame is restored."""
    if not seqs:
        raise DatasetError(f"{dataset}: no sequence to evaluate; check evaluate.sequences and max_sequences")
    need = model.window if model.temporal_mode == "window" else 1
    require_length(seqs, max(need, 1), what=f"{type(model).__name__}'s {need}-frame window" if need > 1
                   else "the evaluation")
    protocol = protocol_for(model, spec)
    rows: list[dict[str, Any]] = []
    extra = {"chunking": chunking_rule(spec.chunk_len, spec.chunk_overlap) if model.temporal_mode == "clip"
             else "not applicable (window or recurrent model)", **(subset or subset_columns(None, len(seqs)))}
    bar = tqdm(total=len(spec.sigmas) * len(seqs), desc=f"evaluate {dataset}", unit="seq", disable=not progress,
               leave=False)
    for sigma in spec.sigmas:
        per_seq: list[dict[str, float]] = []
        for seq in seqs:
            seed = noise_seed(dataset, seq.name, sigma)

            def noisy(i: int, s: Sequence = seq, sd: int = seed, sg: float = sigma) -> np.ndarray:
                return add_awgn_frame(s.frame(i), sg, sd, i)

            frames = [
                frame_metrics(seq.frame(t), out, protocol)
                for t, out in restore_stream(model, noisy, len(seq),
                                             noise_sigma=sigma if model.uses_noise_map else None, device=device,
                                             chunk_len=spec.chunk_len, chunk_overlap=spec.chunk_overlap)
            ]
            seq_mean = average_frames(frames)
            per_seq.append(seq_mean)
            bar.update(1)
            for metric, value in seq_mean.items():
                rows.append({"level": "sequence", "sequence": seq.name, "setting": f"sigma={sigma:g}",
                             "metric": metric, "value": value, "frames": len(frames), "noise_seed": seed,
                             **protocol.card(), **extra})
        for metric in per_seq[0]:
            rows.append({"level": "dataset", "sequence": "", "setting": f"sigma={sigma:g}", "metric": metric,
                         "value": float(np.mean([m[metric] for m in per_seq])), "frames": "",
                         "noise_seed": "noise_seed(dataset, sequence, sigma)", **protocol.card(), **extra})
    bar.close()
    return rows
