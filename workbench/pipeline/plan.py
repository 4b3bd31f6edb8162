"""Cost planner: ``workbench plan SPEC --profile P`` times a few training steps of every distinct model of a
spec on this device and turns them into device-hours per cell and per table, and into the jobs and GPUs a
cluster executor (:mod:`workbench.pipeline.executors`) would ask for.

One timed step is the training loop's step (:mod:`workbench.train.loop`): forward on a noisy clip batch, L2
plus the recipe's auxiliary terms, backward, Adam; synthetic frames of the recipe's shape (cost does not
depend on content). ``warmup`` steps are run first and not timed; CUDA is synchronised around the timer.

Scaling, stated in every row: a model is timed at the recipe's batch and patch size unless ``batch`` or
``patch`` ask for less, or the device runs out of memory (then the patch is halved until it fits). A step
measured at batch ``b`` and patch ``p`` is scaled to the recipe's ``B`` and ``P`` linearly in pixels,
``× (B / b) · (P / p)²`` (the convolutions' work is linear in pixels; a small batch under-uses a GPU, so the
scaled figure is an upper bound there). Device-hours are ``step_s × steps / 3600``; with ``g`` GPUs per job
the wall-clock estimate assumes ideal data-parallel scaling, ``device-hours / g``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from workbench.models.base import RestorationModel, RestorationOutput
from workbench.pipeline.paired import PairedCell, as_restoration
from workbench.pipeline.restoration import RestorationCell
from workbench.pipeline.spec import Resources, cell_resources, expand, load_spec
from workbench.provenance import device_info
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model

PLAN_COLUMNS = ["table", "profile", "cell", "model", "device", "measured_batch", "measured_patch_px", "clip_frames",
                "recipe_batch", "recipe_patch_px", "scale", "step_s", "steps", "device_hours", "gpus_per_job",
                "wall_hours", "jobs"]


@dataclass
class StepTiming:
    seconds: float
    batch: int
    patch: int
    clip_frames: int


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _one_step(model: RestorationModel, optim: torch.optim.Optimizer, clip: torch.Tensor, device: str) -> None:
    nmap = torch.full((clip.shape[0], 1, *clip.shape[-2:]), 25 / 255, device=device) \
        if model.uses_noise_map else None
    out = model(clip, nmap)
    frames = out.frames if isinstance(out, RestorationOutput) else out
    target = clip[:, clip.shape[1] // 2] if model.temporal_mode == "window" else clip
    loss = torch.mean((frames - target) ** 2)
    if isinstance(out, RestorationOutput):
        loss = loss + sum((1e-4 * v for v in out.aux.values()), torch.zeros((), device=device))
    optim.zero_grad(set_to_none=True)
    loss.backward()
    optim.step()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


def time_training_step(make_model: Callable[[], RestorationModel], spec: TrainSpec, *, device: str,
                       batch: int, patch: int, steps: int = 2, warmup: int = 1) -> StepTiming:
    """Seconds per training step of a fresh model at ``batch`` × ``patch``²; halves the patch on OOM."""
    model = make_model().to(device).train()
    frames = model.window if model.temporal_mode == "window" else spec.clip_frames
    optim = torch.optim.Adam(model.parameters(), lr=spec.lr)
    while True:
        clip = torch.rand(batch, frames, model.in_channels, patch, patch, device=device)
        try:
            for _ in range(warmup):
                _one_step(model, optim, clip, device)
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(steps):
                _one_step(model, optim, clip, device)
            _sync(device)
            return StepTiming((time.perf_counter() - t0) / steps, batch, patch, frames)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
            if not _is_oom(exc) or patch <= 16:
                raise
            del clip
            torch.cuda.empty_cache()
            patch //= 2


def _model_key(p: RestorationCell) -> str:
    return json.dumps({"model": p.model, "model_args": p.model_args, "clip_frames": p.train.clip_frames
                       if p.train else None}, sort_keys=True)


def _row(spec_id: str, profile: str, name: str, p: RestorationCell, t: StepTiming, res: Resources,
         device: str) -> dict[str, Any]:
    assert p.train is not None
    scale = (p.train.batch_size / t.batch) * (p.train.patch_size / t.patch) ** 2
    step_s = t.seconds * scale
    hours = step_s * p.train.steps / 3600
    return {"table": spec_id, "profile": profile, "cell": name, "model": p.model, "device": device,
            "measured_batch": t.batch, "measured_patch_px": t.patch, "clip_frames": t.clip_frames,
            "recipe_batch": p.train.batch_size, "recipe_patch_px": p.train.patch_size, "scale": round(scale, 3),
            "step_s": step_s, "steps": p.train.steps, "device_hours": hours, "gpus_per_job": res.gpus,
            "wall_hours": hours / max(1, res.gpus), "jobs": 2}


def plan(spec_id: str, profile: str, *, device: str = "cpu", batch: int | None = None, patch: int | None = None,
         steps: int = 2, warmup: int = 1) -> pd.DataFrame:
    """One row per training cell (columns :data:`PLAN_COLUMNS`); distinct models are timed once."""
    spec = load_spec(spec_id)
    resources = cell_resources(spec, profile)
    timed: dict[str, StepTiming] = {}
    rows = []
    for name, _, cell in expand(spec, profile):
        p = as_restoration(cell) if isinstance(cell, PairedCell) else cell
        if not isinstance(p, RestorationCell) or p.train is None:
            continue
        train = p.train
        key = _model_key(p)
        if key not in timed:
            def make(q: RestorationCell = p, cell: str = name) -> RestorationModel:
                return build_model(q.model, q.model_args, seed=q.seed, where=f"{spec.path}: {cell}")

            if not any(True for _ in make().parameters()):
                continue
            timed[key] = time_training_step(make, train, device=device, batch=min(batch or train.batch_size,
                                            train.batch_size), patch=min(patch or train.patch_size,
                                            train.patch_size), steps=steps, warmup=warmup)
        rows.append(_row(spec.id, profile, name, p, timed[key], resources[name], device))
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def device_label(device: str) -> str:
    info = device_info(device)
    cpu = str(info["cpu_model"])
    return str(info.get("cuda_device") or f"CPU {cpu} ({info['torch_threads']} torch threads)")


def summary_lines(df: pd.DataFrame, device: str) -> list[str]:
    """The per-table totals and what the executor would ask for."""
    if df.empty:
        return ["no training cells: nothing to plan"]
    gpus = int(df["gpus_per_job"].sum())
    return [f"measured on: {device_label(device)} (device {device}); scaling rule in workbench/pipeline/plan.py",
            f"{df['table'].iloc[0]}/{df['profile'].iloc[0]}: {df['device_hours'].sum():.4g} device-hours over "
            f"{len(df)} training cells; longest cell {df['wall_hours'].max():.4g} h wall-clock at its GPUs per job",
            f"executor would submit {int(df['jobs'].sum())} jobs ({len(df)} training + {len(df)} evaluation), "
            f"up to {gpus} GPUs at once (GPUs per training job: "
            f"{', '.join(map(str, sorted(set(df['gpus_per_job']))))}; evaluation jobs: 1 task each)"]


__all__ = ["PLAN_COLUMNS", "plan", "summary_lines", "time_training_step"]
