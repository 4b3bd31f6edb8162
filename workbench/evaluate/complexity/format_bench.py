"""Streaming inference with NCHW weights ÷ with channels-last weights, per model, timed in one run.

For each distinct ``(model, model_args)`` of the restoration cells of a spec's profile (untrained: the
weights do not change the arithmetic, and zero-initialised offset predictors keep the deformable
convolutions regular), :func:`workbench.evaluate.infer.restore_stream` restores ``frames`` random
``U(0, 1)`` frames of ``height × width`` (σ = 30 for non-blind models) once with the weights in NCHW
(``"contiguous"``) and once channels-last, alternating, ``repeats`` times; the best ms/frame of each and
their ratio are reported with the largest absolute difference of the outputs and the format the model
declares (``inference_memory_format``). The SPyNet flow memo is off, so every round computes its flows.
The models of a spec come from :func:`workbench.pipeline.format_bench.benchmark_formats`. This is
the measurement behind each model's ``inference_memory_format`` (docs/protocols.md §7).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.evaluate.infer import restore_stream
from workbench.models.base import RestorationModel
from workbench.models.spynet import no_flow_memo

FORMATS = ("contiguous", "channels_last")


@dataclass(frozen=True)
class FormatTiming:
    """One model's best ms/frame per weight format, their ratio and the outputs' largest difference."""

    model: str
    args: dict[str, Any]
    declared: str
    ms_per_frame: dict[str, float]
    max_abs_diff: float

    @property
    def speedup(self) -> float:
        """NCHW ms/frame ÷ channels-last ms/frame (> 1: channels-last is faster)."""
        return self.ms_per_frame["contiguous"] / self.ms_per_frame["channels_last"]

    def line(self) -> str:
        ms = self.ms_per_frame
        return (f"{self.model:16s} NCHW {ms['contiguous']:8.1f} ms/frame  channels-last {ms['channels_last']:8.1f}"
                f"  ratio {self.speedup:5.2f}  max |diff| {self.max_abs_diff:.1e}  declared {self.declared}")


def _stream(model: RestorationModel, frames: np.ndarray, fmt: str) -> tuple[list[np.ndarray], float]:
    """Restore ``frames`` ``(T, H, W, C)`` with the weights in ``fmt``; (outputs, seconds per frame)."""
    sigma = 30.0 if model.uses_noise_map else None
    model.inference_memory_format = fmt  # type: ignore[misc]  # the instance's, for this run only
    try:
        t0 = time.perf_counter()
        with no_flow_memo():
            outs = [y for _, y in restore_stream(model, lambda i: frames[i], len(frames), noise_sigma=sigma)]
        return outs, (time.perf_counter() - t0) / len(frames)
    finally:
        del model.inference_memory_format  # the class's declaration shows again


def time_formats(model: RestorationModel, *, name: str, args: dict[str, Any], frames: int = 8, height: int = 96,
                 width: int = 160, repeats: int = 3, seed: int = 0) -> FormatTiming:
    """Best ms/frame of ``model`` over ``repeats`` alternating rounds per format (module docstring)."""
    if frames < 1 or repeats < 1:
        raise ValueError(f"frames={frames}, repeats={repeats}: both must be at least 1")
    clip = np.random.default_rng(seed).random((frames, height, width, model.in_channels), dtype=np.float32)
    best = {f: float("inf") for f in FORMATS}
    outs: dict[str, list[np.ndarray]] = {}
    model.eval()
    for _ in range(repeats):
        for fmt in FORMATS:
            outs[fmt], s = _stream(model, clip, fmt)
            best[fmt] = min(best[fmt], s)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(outs["contiguous"], outs["channels_last"], strict=True))
    return FormatTiming(name, dict(args), type(model).inference_memory_format,
                        {f: 1e3 * s for f, s in best.items()}, diff)


__all__ = ["FORMATS", "FormatTiming", "time_formats"]
