"""Run one NCFL model over a clean clip and noisy realisations of it in lock-step, probing every step.

Realisation ``r`` of a sequence at σ (0–255 scale) is AWGN seeded with ``noise_seed(dataset, sequence, σ)
+ r`` (:mod:`workbench.degrade.awgn`): ``r = 0`` is the noise of the evaluation protocol, so the model's
outputs on it are the ones the tables score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from torch import nn

from workbench.data.sequence import Sequence
from workbench.degrade.awgn import add_awgn_frame, noise_seed
from workbench.evaluate.analysis.probe import RefinerProbe, StepRecord
from workbench.evaluate.infer import restore_stream

FrameFn = Callable[[int], np.ndarray]


def realisation_seed(dataset: str, seq: Sequence, sigma: float, r: int) -> int:
    return noise_seed(dataset, seq.name, sigma) + r


def noisy_frames(dataset: str, seq: Sequence, sigma: float, r: int) -> FrameFn:
    """``frame(t)`` of noise realisation ``r`` (float32, unclipped)."""
    seed = realisation_seed(dataset, seq, sigma, r)
    return lambda t: add_awgn_frame(seq.frame(t), sigma, seed, t)


def probed_steps(model: nn.Module, inputs: list[FrameFn], num_frames: int, *, device: str, sigma: float
                 ) -> Iterator[tuple[int, list[StepRecord | None], list[np.ndarray]]]:
    """Yield ``(t, records, outputs)`` with one record and one restored frame per input stream."""
    noise = sigma if getattr(model, "uses_noise_map", False) else None
    with RefinerProbe(model) as probe:
        streams = [restore_stream(model, fn, num_frames, noise_sigma=noise, device=device)  # type: ignore[arg-type]
                   for fn in inputs]
        for t in range(num_frames):
            records, outputs = [], []
            for s in streams:
                _, out = next(s)
                records.append(probe.pop())
                outputs.append(out)
            yield t, records, outputs
