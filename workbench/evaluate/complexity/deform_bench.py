"""Deformable convolution ÷ regular convolution of the same shape, timed in one run.

The deformable convolution is the plain-PyTorch path of
:func:`workbench.ops.deform_conv.modulated_deform_conv2d` (``use_torchvision=False``, ``impl="current"``),
the implementation it replaced (:mod:`workbench.ops.deform_conv_legacy`, ``impl="legacy"``), the native
CPU kernel (:mod:`workbench.ops.deform_conv_native`, ``impl="native"``; refused when it cannot be built),
current and legacy (``impl="both"``), all three (``impl="all"``; native left out, with the builder's
one-line message, when it cannot be built), or another function (``deform_fn``); the regular one is
``F.conv2d`` with the same input, weight, bias and padding (``kernel // 2``, stride 1). Inputs are float32 by
default: input ``U(0, 1)``, offsets ``2·N(0, 1)`` pixels, masks ``U(0, 1)``, one deformable group per
``channels / groups`` input channels.

Three figures per operator: *forward* (under ``torch.no_grad``), *forward + backward* (every input that
the operator takes requires grad — input, offset, mask, weight and bias for the deformable one; input,
weight and bias for the regular one — and the backward gets a fixed output gradient) and *backward* (the
``backward()`` call of that run alone). After ``warmup`` untimed rounds, ``repeats`` rounds run every
measurement one after the other, so a busy machine slows all operators alike; the medians and their
ratios are reported with the device and ``torch.get_num_threads()``. CUDA work is synchronised before the
clock is read.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from workbench.errors import ConfigError, ToolError
from workbench.evaluate.complexity.runtime import device_name
from workbench.ops.deform_conv import modulated_deform_conv2d, native_available
from workbench.ops.deform_conv_legacy import legacy_deform_conv2d

#: ``(input, offset, mask, weight, bias) -> output``, the deformable convolution being timed
DeformFn = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]
#: what ``impl`` may name
IMPLS = ("current", "legacy", "native", "both", "all")


@dataclass(frozen=True)
class OpTimes:
    """Median ms of one operator: forward (no grad), forward+backward, and the backward of that run."""

    forward_ms: float
    train_ms: float
    backward_ms: float


@dataclass(frozen=True)
class DeformBenchResult:
    """Median times (ms) of the deformable and the regular convolution, and the conditions.

    ``deform_*`` is the first implementation timed (``current``, or ``legacy`` / ``native`` when ``impl``
    names only that one, or ``deform_fn``); ``others`` holds the rest by name (``legacy`` for
    ``impl="both"``, ``legacy`` and ``native`` for ``impl="all"``).
    """

    shape: str
    device: str
    threads: int
    repeats: int
    deform_forward_ms: float
    conv_forward_ms: float
    deform_train_ms: float
    conv_train_ms: float
    deform_backward_ms: float = float("nan")
    conv_backward_ms: float = float("nan")
    impl: str = "current"
    others: dict[str, OpTimes] = field(default_factory=dict)

    @property
    def forward_ratio(self) -> float:
        return self.deform_forward_ms / self.conv_forward_ms

    @property
    def train_ratio(self) -> float:
        return self.deform_train_ms / self.conv_train_ms

    @property
    def backward_ratio(self) -> float:
        return self.deform_backward_ms / self.conv_backward_ms

    def lines(self) -> list[str]:
        """Human-readable summary: the conditions, then forward / backward / forward+backward of each
        implementation against the regular convolution."""
        conv = OpTimes(self.conv_forward_ms, self.conv_train_ms, self.conv_backward_ms)
        impls = {self.impl: OpTimes(self.deform_forward_ms, self.deform_train_ms, self.deform_backward_ms),
                 **self.others}
        out = [f"{self.shape}; {self.device}, {self.threads} threads, median of {self.repeats}"]
        for what, key in (("forward", "forward_ms"), ("forward+backward", "train_ms"), ("backward", "backward_ms")):
            c = getattr(conv, key)
            for name, t in impls.items():
                d = getattr(t, key)
                out.append(f"{what:<17} {name:<8} deform {d:8.1f} ms  conv {c:7.1f} ms  ratio {d / c:5.2f}x")
        return out


def parse_shape(value: str) -> tuple[int, int, int, int]:
    """``"1x64x136x240"`` → ``(N, C, H, W)``."""
    parts = value.lower().split("x")
    if len(parts) != 4 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"shape {value!r}: expected 'NxCxHxW', e.g. '1x64x136x240'")
    n, c, h, w = (int(p) for p in parts)
    return n, c, h, w


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _forward(fn: Callable[..., Tensor], args: tuple[Tensor, ...]) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            fn(*args)

    return run


def _legacy(x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor, bias: Tensor, *, padding: int) -> Tensor:
    return legacy_deform_conv2d(x, offset, mask, weight, bias, padding=padding)


def _train(
    fn: Callable[..., Tensor], args: tuple[Tensor, ...], grad: Tensor, device: torch.device,
) -> Callable[[], float]:
    """A forward+backward run that returns the seconds its ``backward()`` took."""
    leaves = tuple(a.detach().clone().requires_grad_(True) for a in args)

    def run() -> float:
        for t in leaves:
            t.grad = None
        out = fn(*leaves)
        _sync(device)
        t0 = time.perf_counter()
        out.backward(grad)
        _sync(device)
        return time.perf_counter() - t0

    return run


def _inputs(
    *, batch: int, channels: int, groups: int, kernel: int, height: int, width: int, device: torch.device,
    dtype: torch.dtype, seed: int,
) -> tuple[Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    taps = kernel * kernel

    def rand(*shape: int, scale: float = 1.0, normal: bool = False) -> Tensor:
        t = torch.randn(shape, generator=gen) if normal else torch.rand(shape, generator=gen)
        return (scale * t).to(device=device, dtype=dtype)

    x = rand(batch, channels, height, width)
    offset = rand(batch, 2 * groups * taps, height, width, scale=2.0, normal=True)
    mask = rand(batch, groups * taps, height, width)
    weight = rand(channels, channels, kernel, kernel, scale=(channels * taps) ** -0.5, normal=True)
    bias = rand(channels, scale=0.1, normal=True)
    return x, offset, mask, weight, bias


def benchmark_deform_conv(
    *,
    channels: int = 64,
    groups: int = 16,
    height: int = 136,
    width: int = 240,
    batch: int = 1,
    kernel: int = 3,
    repeats: int = 7,
    warmup: int = 2,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    deform_fn: DeformFn | None = None,
    impl: str = "current",
    seed: int = 0,
) -> DeformBenchResult:
    """Time a ``channels → channels`` ``kernel × kernel`` deformable convolution with ``groups``
    deformable groups against ``F.conv2d`` of the same shape (protocol in the module docstring)."""
    if channels % groups:
        raise ConfigError(f"channels={channels} is not divisible by groups={groups} (deformable groups)")
    if impl not in IMPLS:
        raise ConfigError(f"impl={impl!r}: expected one of {', '.join(IMPLS)}")
    dev = torch.device(device)
    x, offset, mask, weight, bias = _inputs(batch=batch, channels=channels, groups=groups, kernel=kernel,
                                            height=height, width=width, device=dev, dtype=dtype, seed=seed)
    pad = kernel // 2
    fns: dict[str, Callable[..., Tensor]] = {}
    if deform_fn is not None:
        fns["custom"] = deform_fn
    if deform_fn is None and impl in ("current", "both", "all"):
        fns["current"] = functools.partial(modulated_deform_conv2d, padding=pad, impl="plain")
    if deform_fn is None and impl in ("legacy", "both", "all"):
        fns["legacy"] = functools.partial(_legacy, padding=pad)
    if deform_fn is None and impl in ("native", "all"):
        if dev.type != "cpu" or dtype not in (torch.float32, torch.float64):
            if impl == "native":
                raise ConfigError(f"impl='native' times the CPU kernel: float32/float64 on cpu, not {dtype} on {dev}")
        elif native_available():
            fns["native"] = functools.partial(modulated_deform_conv2d, padding=pad, impl="native")
        elif impl == "native":
            raise ToolError("the native deformable convolution could not be compiled (see the line above)")

    def conv(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        return F.conv2d(x, weight, bias, padding=pad)

    grad = torch.randn((batch, channels, height, width), generator=torch.Generator().manual_seed(seed + 1))
    grad = grad.to(device=dev, dtype=dtype)
    runs: dict[str, Callable[[], float | None]] = {"conv_forward": _forward(conv, (x, weight, bias)),
                                                   "conv_train": _train(conv, (x, weight, bias), grad, dev)}
    for name, fn in fns.items():
        runs[f"{name}_forward"] = _forward(fn, (x, offset, mask, weight, bias))
        runs[f"{name}_train"] = _train(fn, (x, offset, mask, weight, bias), grad, dev)
    ms = _interleaved(runs, dev, warmup, repeats)
    times = {name: OpTimes(ms[f"{name}_forward"], ms[f"{name}_train"], ms[f"{name}_train.part"])
             for name in fns}
    first, *rest = fns
    shape = (f"deformable conv {channels}->{channels} {kernel}x{kernel}, {groups} deformable groups, "
             f"N={batch}, {height}x{width}, {str(dtype).removeprefix('torch.')}")
    return DeformBenchResult(shape=shape, device=device_name(dev), threads=torch.get_num_threads(),
                             repeats=repeats, deform_forward_ms=times[first].forward_ms,
                             conv_forward_ms=ms["conv_forward"], deform_train_ms=times[first].train_ms,
                             conv_train_ms=ms["conv_train"], deform_backward_ms=times[first].backward_ms,
                             conv_backward_ms=ms["conv_train.part"], impl=first,
                             others={name: times[name] for name in rest})


def _interleaved(
    runs: dict[str, Callable[[], float | None]], device: torch.device, warmup: int, repeats: int,
) -> dict[str, float]:
    """Median ms of each run (and, as ``name.part``, of the seconds a run returns); every round runs each
    of them once, in order."""
    times: dict[str, list[float]] = {}
    for i in range(warmup + repeats):
        for name, run in runs.items():
            _sync(device)
            t0 = time.perf_counter()
            part = run()
            _sync(device)
            if i >= warmup:
                times.setdefault(name, []).append(1e3 * (time.perf_counter() - t0))
                if part is not None:
                    times.setdefault(f"{name}.part", []).append(1e3 * part)
    return {name: statistics.median(t) for name, t in times.items()}
