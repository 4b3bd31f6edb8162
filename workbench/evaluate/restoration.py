"""Evaluate one restoration model on a dataset under the AWGN protocol of Table 1 (docs/protocols.md §1).

For each σ (0–255 scale) and sequence: AWGN seeded from (dataset, sequence, σ) (:mod:`workbench.degrade.awgn`),
streaming restoration (:mod:`workbench.evaluate.infer`), per-frame PSNR/SSIM under the pinned protocol card
(:mod:`workbench.evaluate.metrics`), averaged frame → sequence → dataset.

Rows: one per (σ, sequence, metric) with ``level = "sequence"`` and one per (σ, metric) with
``level = "dataset"`` (the mean over sequences of per-sequence means), each with the protocol card, the
noise seed rule and, for clip (bi-directional) models, the evaluation rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.data.sequence import Sequence
from workbench.degrade.awgn import add_awgn_frame, noise_seed
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
    rounding: str = "none"
    clip_output: bool = True


def evaluate_model(model: RestorationModel, seqs: list[Sequence], *, dataset: str, spec: EvalSpec,
                   device: str) -> list[dict[str, Any]]:
    """Long-format rows (``level``, ``sequence``, ``setting``, ``metric``, ``value``, ``frames``, …)."""
    protocol = Protocol(frames_per_sequence=spec.max_frames, crop_border=spec.crop_border,
                        rounding=spec.rounding, clip_output=spec.clip_output)  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = []
    extra = {"chunking": chunking_rule(spec.chunk_len, spec.chunk_overlap) if model.temporal_mode == "clip"
             else "not applicable (window or recurrent model)"}
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
            for metric, value in seq_mean.items():
                rows.append({"level": "sequence", "sequence": seq.name, "setting": f"sigma={sigma:g}",
                             "metric": metric, "value": value, "frames": len(frames), "noise_seed": seed,
                             **protocol.card(), **extra})
        for metric in per_seq[0]:
            rows.append({"level": "dataset", "sequence": "", "setting": f"sigma={sigma:g}", "metric": metric,
                         "value": float(np.mean([m[metric] for m in per_seq])), "frames": "",
                         "noise_seed": "noise_seed(dataset, sequence, sigma)", **protocol.card(), **extra})
    return rows
