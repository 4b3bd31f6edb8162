"""Wall-clock runtime per output frame (ms), measured in one process so ratios are comparable.

Per-frame rule (``rule`` column), inputs float32 ``(1, T, C, H, W)`` at the measurement resolution:

- ``"window"`` models: one forward of a ``window``-frame clip;
- ``"recurrent"`` models: one ``step(frame, state)`` with a warm state (after ``warmup`` steps);
- ``"clip"`` models: ``forward`` of a ``clip_frames``-frame clip divided by ``clip_frames``.

Each model gets ``warmup`` untimed calls, then ``repeats`` timed ones; the median is reported. CUDA
calls are synchronised before reading the clock. ``between`` (optional) runs after every timed call,
outside the clock: :class:`~workbench.evaluate.complexity.efficiency.PeakProbe` uses it to measure the
machine's GEMM peak interleaved with the model, so that load from other processes hits both. The device
name and ``torch.get_num_threads()`` are recorded; ratios between models are taken from one run
(:mod:`.audit`).
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from workbench.models.spynet import no_flow_memo

ModelFactory = Callable[[], nn.Module]


@dataclass
class RuntimeResult:
    method: str
    ms_per_frame: float
    resolution: tuple[int, int]  # (W, H)
    device: str
    threads: int
    warmup: int
    repeats: int
    rule: str


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], device: torch.device, warmup: int, repeats: int,
           between: Callable[[], Any] | None = None) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
        if between is not None:
            between()
    return statistics.median(times)


@torch.inference_mode()
@no_flow_memo()
def time_model(
    method: str,
    model: nn.Module,
    *,
    resolution: tuple[int, int],
    device: str | torch.device = "cpu",
    warmup: int = 1,
    repeats: int = 5,
    clip_frames: int = 5,
    between: Callable[[], Any] | None = None,
) -> RuntimeResult:
    """Median ms per output frame of ``model`` at ``resolution`` = (W, H) (rule in the module docstring)."""
    dev = torch.device(device)
    model = model.to(dev).eval()
    w, h = resolution
    m = int(getattr(model, "size_multiple", 1) or 1)
    h, w = -(-h // m) * m, -(-w // m) * m
    c = int(getattr(model, "in_channels", 3))
    k = int(getattr(model, "noise_map_channels", 1))  # raw models take the ISO's [a_n, b_n] planes
    noise = torch.full((1, k, h, w), 0.1, device=dev) if getattr(model, "uses_noise_map", False) else None
    mode = str(getattr(model, "temporal_mode", "window"))
    if mode == "window":
        clip = torch.rand(1, int(getattr(model, "window", 1)), c, h, w, device=dev)
        seconds = _timed(lambda: model(clip, noise), dev, warmup, repeats, between)
        rule = "one forward"
    elif mode == "recurrent":
        frame = torch.rand(1, c, h, w, device=dev)
        holder: dict[str, Any] = {"state": None}

        def step() -> None:
            _, holder["state"] = model.step(frame, holder["state"], noise)  # type: ignore[operator]

        step()  # the first step has no alignment: always warm the state
        seconds = _timed(step, dev, warmup, repeats, between)
        rule = "one step with a warm state"
    else:
        clip = torch.rand(1, clip_frames, c, h, w, device=dev)
        seconds = _timed(lambda: model(clip, noise), dev, warmup, repeats, between) / clip_frames
        rule = f"forward(T={clip_frames}) / {clip_frames}"
    return RuntimeResult(method, 1e3 * seconds, (w, h), device_name(dev), torch.get_num_threads(), warmup,
                         repeats, rule)
