"""``workbench bench loader``: does the clip loader keep up with the model? Both measured in one run.

Loader: clips per second that the training loop receives from
:meth:`ClipSampler.sample <workbench.train.sampler.ClipSampler.sample>` (``loader_workers: 0``, in the loop)
and from :class:`~workbench.train.loader.PrefetchLoader` with ``workers`` processes, each from a fresh
sampler (cold frame cache of ``cache_frames`` frames) and the same generator seed, ``batches`` batches of
``batch`` clips of the model's clip length at ``patch``² pixels. Each batch is followed by the loop's σ and
noise draws (:func:`workbench.train.loop.replay_step_draws`), as in training, so the time is what the loop
waits for its noisy batch, with workers including the look-ahead's replay of those draws. The first batch
(worker start-up for N > 0) is timed apart; the rate is over the other ``batches − 1``.

Model: training steps per second on ``device`` (forward under :func:`workbench.train.precision.autocast`,
L2 plus ``1e-4 ×`` each auxiliary term in fp32, backward, Adam) on random clips of the same shape, after
``warmup`` untimed steps; CUDA is synchronised around the timer.

Ratio ``loader ÷ model`` = loader clips/s ÷ (model steps/s × ``batch``): at ≥ 1 the loader supplies clips
as fast as the model consumes them (on a CPU both compete for the same cores, so the ratio is a bound).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from workbench.data.catalog import open_dataset
from workbench.data.sequence import Sequence
from workbench.errors import ConfigError
from workbench.evaluate.complexity.runtime import device_name
from workbench.models.base import RestorationModel, RestorationOutput
from workbench.train.loader import PrefetchLoader
from workbench.train.loop import replay_step_draws
from workbench.train.precision import autocast
from workbench.train.sampler import ClipSampler
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model

#: the default model: FastDVDNet at a quarter of its width (CPU-sized)
DEFAULT_MODEL = "fastdvdnet"
DEFAULT_MODEL_ARGS: dict[str, Any] = {"base_channels": 8}


@dataclass(frozen=True)
class LoaderRate:
    workers: int
    clips_per_s: float
    first_batch_s: float


@dataclass(frozen=True)
class LoaderBenchResult:
    """The loader's rates (one per worker count), the model's step rate and the conditions."""

    dataset: str
    batch: int
    clip_frames: int
    patch: int
    batches: int
    cache_frames: int
    loader: list[LoaderRate]
    model: str
    model_args: dict[str, Any]
    precision: str
    device: str
    threads: int
    model_steps_per_s: float
    model_steps: int

    @property
    def model_clips_per_s(self) -> float:
        return self.model_steps_per_s * self.batch

    def ratio(self, rate: LoaderRate) -> float:
        """Loader clips/s ÷ model clips/s."""
        return rate.clips_per_s / self.model_clips_per_s

    def lines(self) -> list[str]:
        """Human-readable summary: conditions, one line per worker count, the model, the ratios."""
        out = [f"loader: {self.dataset}, {self.batches} batches of {self.batch} clips of {self.clip_frames}x"
               f"{self.patch}x{self.patch}, frame cache {self.cache_frames} frames; {self.threads} torch threads"]
        out += [f"  workers {r.workers}: {r.clips_per_s:9.1f} clips/s  (first batch {r.first_batch_s:.2f} s)"
                for r in self.loader]
        out.append(f"model: {self.model} {self.model_args or ''} {self.precision} on {self.device}: "
                   f"{self.model_steps_per_s:.2f} steps/s = {self.model_clips_per_s:.1f} clips/s "
                   f"(median of {self.model_steps} steps)")
        ratios = ", ".join(f"workers {r.workers} {self.ratio(r):.2f}x" for r in self.loader)
        out.append(f"loader / model: {ratios} (>= 1: the loader keeps up)")
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Long-format rows ``(item, metric, value, unit)`` for a CSV."""
        rows = [{"item": f"loader workers={r.workers}", "metric": m, "value": v, "unit": u}
                for r in self.loader for m, v, u in (("clips_per_s", r.clips_per_s, "clips/s"),
                                                     ("first_batch_s", r.first_batch_s, "s"),
                                                     ("loader_over_model", self.ratio(r), "x"))]
        rows.append({"item": f"model {self.model} {self.precision}", "metric": "steps_per_s",
                     "value": self.model_steps_per_s, "unit": "steps/s"})
        return rows


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _loader_rate(sampler: ClipSampler, *, workers: int, batch: int, batches: int, seed: int) -> LoaderRate:
    g = torch.Generator().manual_seed(seed)
    spec = TrainSpec(batch_size=batch, patch_size=sampler.patch_size, clip_frames=sampler.clip_frames)
    replay = replay_step_draws(spec, sampler)
    t0 = time.perf_counter()
    loader = PrefetchLoader(sampler=sampler, batch=batch, workers=workers, g=g, steps=batches,
                            replay=replay) if workers else None
    try:
        times = []
        for _ in range(batches):
            if loader is not None:
                loader.sample(batch, g)
            else:
                sampler.sample(batch, g)
            replay(g)
            now = time.perf_counter()
            times.append(now - t0)
            t0 = now
    finally:
        if loader is not None:
            loader.close()
    steady = sum(times[1:])
    return LoaderRate(workers=workers, clips_per_s=batch * (batches - 1) / steady, first_batch_s=times[0])


def _train_step(model: RestorationModel, optim: torch.optim.Optimizer, clip: torch.Tensor, precision: str,
                device: torch.device) -> None:
    nmap = torch.full((clip.shape[0], 1, *clip.shape[-2:]), 25 / 255, device=device) \
        if model.uses_noise_map else None
    with autocast(precision, device):
        out = model(clip, nmap)
    frames = out.frames if isinstance(out, RestorationOutput) else out
    target = clip[:, clip.shape[1] // 2] if model.temporal_mode == "window" else clip
    loss = torch.mean((frames.float() - target) ** 2)
    if isinstance(out, RestorationOutput):
        for value in out.aux.values():
            loss = loss + 1e-4 * value.float()
    optim.zero_grad(set_to_none=True)
    loss.backward()
    optim.step()


def model_steps_per_s(model: RestorationModel, *, batch: int, clip_frames: int, patch: int, device: str,
                      precision: str = "fp32", steps: int = 3, warmup: int = 1) -> float:
    """Training steps per second of ``model`` (median step) on random ``(batch, clip_frames, C, patch,
    patch)`` clips; the model is trained in place."""
    dev = torch.device(device)
    model.to(dev).train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-4)
    clip = torch.rand(batch, clip_frames, model.in_channels, patch, patch, device=dev)
    times = []
    for i in range(warmup + steps):
        _sync(dev)
        t0 = time.perf_counter()
        _train_step(model, optim, clip, precision, dev)
        _sync(dev)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return 1.0 / sorted(times)[len(times) // 2]


def benchmark_loader(
    *,
    dataset: str = "embedded-train",
    data_root: Path | None = None,
    sequences: list[Sequence] | None = None,
    workers: int = 2,
    batch: int = 4,
    patch: int = 64,
    clip_frames: int = 5,
    batches: int = 10,
    cache_frames: int = 512,
    model: str = DEFAULT_MODEL,
    model_args: dict[str, Any] | None = None,
    precision: str = "fp32",
    device: str = "cpu",
    steps: int = 3,
    warmup: int = 1,
    seed: int = 0,
) -> LoaderBenchResult:
    """Clips/s of the loader at 0 and ``workers`` workers and steps/s of ``model`` (see the module docstring);
    ``sequences`` (then ``dataset`` is only their label) replace the dataset's."""
    for key, value, least in (("workers", workers, 1), ("batches", batches, 2), ("steps", steps, 1),
                              ("batch", batch, 1), ("patch", patch, 1), ("cache_frames", cache_frames, 0),
                              ("warmup", warmup, 0)):
        if value < least:
            raise ConfigError(f"bench loader: {key}={value}; use {least} or more"
                              + (" (the first batch is timed apart)" if key == "batches" else ""))
    args = dict(DEFAULT_MODEL_ARGS) if model_args is None and model == DEFAULT_MODEL else dict(model_args or {})
    net = build_model(model, args, seed=seed, where="bench loader --model")
    frames = net.window if net.temporal_mode == "window" else clip_frames
    seqs = sequences if sequences is not None else open_dataset(dataset, root=data_root)

    def sampler() -> ClipSampler:
        return ClipSampler(sequences=seqs, clip_frames=frames, patch_size=patch, cache_frames=cache_frames)

    rates = [_loader_rate(sampler(), workers=n, batch=batch, batches=batches, seed=seed) for n in (0, workers)]
    steps_per_s = model_steps_per_s(net, batch=batch, clip_frames=frames, patch=patch, device=device,
                                    precision=precision, steps=steps, warmup=warmup)
    return LoaderBenchResult(dataset=dataset, batch=batch, clip_frames=frames, patch=patch, batches=batches,
                             cache_frames=cache_frames, loader=rates, model=model, model_args=args,
                             precision=precision, device=device_name(torch.device(device)),
                             threads=torch.get_num_threads(), model_steps_per_s=steps_per_s, model_steps=steps)
