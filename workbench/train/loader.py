"""Training clips decoded ahead of the loop by worker processes (``loader_workers: N``), the same clips.

The training loop draws, each step and from its one ``torch.Generator`` ``g``, first the clips
(:meth:`~workbench.train.sampler.ClipSampler.draw`), then the noise σ and the noise
(:func:`workbench.train.loop.train`). To read clips ahead without changing a single random number:

- look-ahead, in the main process: a copy of ``g``'s state replays the loop's draws step after step
  (the clips' indices, then ``replay``: the loop's σ and noise draws on a zero batch) and hands the indices
  of each coming step to a ``torch.utils.data.DataLoader`` (a batch sampler; ``prefetch_factor`` batches per
  worker in flight);
- the workers only decode, crop and augment (:meth:`~workbench.train.sampler.ClipSampler.clip`, each with its
  own frame cache); batches come back in order, in pinned memory when the device is CUDA;
- at each step the loop still draws the indices from ``g`` itself (:meth:`PrefetchLoader.sample`), so ``g``
  and the checkpointed generator state are exactly those of a run without workers, and the drawn indices
  are checked against the batch that arrives (a mismatch, a bug, stops the run with one line).

A resumed run restores ``g`` from the checkpoint before the loader copies it, so it reads ahead from there.
The DataLoader gets a generator of its own, so it takes nothing from torch's global generator (which models
may use in training, e.g. NCFL's noise proxy). Workers are forked processes with one torch thread each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from workbench.errors import ConfigError, TrainingError
from workbench.train.sampler import ClipIndex, ClipSampler

#: batches each worker prepares ahead of the loop
PREFETCH_PER_WORKER = 2


class _Clips(Dataset[tuple[ClipIndex, torch.Tensor]]):
    """Map-style view of a sampler: item ``ClipIndex`` → ``(index, clip (T, C, P, P))``."""

    def __init__(self, sampler: ClipSampler) -> None:
        self.sampler = sampler

    def __getitem__(self, index: ClipIndex) -> tuple[ClipIndex, torch.Tensor]:  # type: ignore[override]
        return index, self.sampler.clip(index)


def _collate(items: list[tuple[ClipIndex, torch.Tensor]]) -> tuple[list[ClipIndex], torch.Tensor]:
    return [i for i, _ in items], torch.stack([c for _, c in items])


def lookahead(sampler: ClipSampler, batch: int, g: torch.Generator, steps: int,
              replay: Callable[[torch.Generator], None]) -> Iterator[list[ClipIndex]]:
    """The clip indices of the next ``steps`` steps, drawn from a copy of ``g`` (``g`` is not touched)."""
    ahead = torch.Generator()
    ahead.set_state(g.get_state())
    for _ in range(steps):
        yield sampler.draw(batch, ahead)
        replay(ahead)


class PrefetchLoader:
    """``workers`` processes decoding the clips of the next ``steps`` steps (see the module docstring)."""

    def __init__(self, *, sampler: ClipSampler, batch: int, workers: int, g: torch.Generator, steps: int,
                 replay: Callable[[torch.Generator], None], pin_memory: bool = False) -> None:
        if workers < 1:
            raise ConfigError(f"loader_workers: the prefetching loader needs at least 1 worker, got {workers}")
        self.sampler, self.step = sampler, 0
        loader: DataLoader[tuple[ClipIndex, torch.Tensor]] = DataLoader(
            _Clips(sampler), batch_sampler=lookahead(sampler, batch, g, steps, replay),  # type: ignore[arg-type]
            num_workers=workers, collate_fn=_collate, pin_memory=pin_memory,
            prefetch_factor=PREFETCH_PER_WORKER, generator=torch.Generator().manual_seed(0),
            multiprocessing_context="fork")
        self._batches: Iterator[tuple[list[ClipIndex], torch.Tensor]] | None = iter(loader)

    def sample(self, batch: int, g: torch.Generator) -> torch.Tensor:
        """The next batch ``(N, T, C, P, P)``; draws its indices from ``g`` exactly as
        :meth:`ClipSampler.sample` does and checks them against the prefetched batch."""
        want = self.sampler.draw(batch, g)
        self.step += 1
        if self._batches is None:
            raise TrainingError("loader: sample() after close(); build a new PrefetchLoader")
        try:
            got, clips = next(self._batches)
        except StopIteration:
            raise TrainingError(f"loader: asked for batch {self.step}, beyond the steps it was built for; "
                                "build it with steps = the steps left") from None
        if got != want:
            raise TrainingError(f"loader: the prefetched clips of batch {self.step} are not the ones the loop "
                                "drew (its look-ahead replays other draws than the loop's step); set "
                                "loader_workers: 0 and report this")
        return clips

    def close(self) -> None:
        """Stop the workers (also done when the loader is garbage-collected)."""
        batches, self._batches = self._batches, None
        shutdown = getattr(batches, "_shutdown_workers", None)
        if callable(shutdown):
            shutdown()
