"""Deformable convolution ÷ regular convolution of the same shape, timed in one run.

The deformable convolution is the plain-PyTorch path of
:func:`workbench.ops.deform_conv.modulated_deform_conv2d` (``use_torchvision=False``) unless another
function is given; the regular one is ``F.conv2d`` with the same input, weight, bias and padding
(``kernel // 2``, stride 1). Inputs are float32 by default: input ``U(0, 1)``, offsets ``2·N(0, 1)``
pixels, masks ``U(0, 1)``, one deformable group per ``channels / groups`` input channels.

Two measurements per operator: *forward* (under ``torch.no_grad``) and *forward + backward* (every
input that the operator takes requires grad — input, offset, mask, weight and bias for the deformable
one; input, weight and bias for the regular one — and the backward gets a fixed output gradient). After
``warmup`` untimed rounds, ``repeats`` rounds run the four measurements one after the other, so a busy
machine slows both operators alike; the medians and their ratios are reported with the device and
``torch.get_num_threads()``. CUDA work is synchronised before the clock is read.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from workbench.errors import ConfigError
from workbench.evaluate.complexity.runtime import device_name
from workbench.ops.deform_conv import modulated_deform_conv2d

#: ``(input, offset, mask, weight, bias) -> output``, the deformable convolution being timed
DeformFn = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class DeformBenchResult:
    """Median times (ms) of the deformable and the regular convolution, and the conditions."""

    shape: str
    device: str
    threads: int
    repeats: int
    deform_forward_ms: float
    conv_forward_ms: float
    deform_train_ms: float
    conv_train_ms: float

    @property
    def forward_ratio(self) -> float:
        return self.deform_forward_ms / self.conv_forward_ms

    @property
    def train_ratio(self) -> float:
        return self.deform_train_ms / self.conv_train_ms

    def lines(self) -> list[str]:
        """Human-readable summary, one line for the conditions and one per measurement."""
        return [
            f"{self.shape}; {self.device}, {self.threads} threads, median of {self.repeats}",
            f"forward           deform {self.deform_forward_ms:8.1f} ms  conv {self.conv_forward_ms:7.1f} ms"
            f"  ratio {self.forward_ratio:5.2f}x",
            f"forward+backward  deform {self.deform_train_ms:8.1f} ms  conv {self.conv_train_ms:7.1f} ms"
            f"  ratio {self.train_ratio:5.2f}x",
        ]


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


def _train(fn: Callable[..., Tensor], args: tuple[Tensor, ...], grad: Tensor) -> Callable[[], None]:
    leaves = tuple(a.detach().clone().requires_grad_(True) for a in args)

    def run() -> None:
        for t in leaves:
            t.grad = None
        fn(*leaves).backward(grad)

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
    seed: int = 0,
) -> DeformBenchResult:
    """Time a ``channels → channels`` ``kernel × kernel`` deformable convolution with ``groups``
    deformable groups against ``F.conv2d`` of the same shape (protocol in the module docstring)."""
    if channels % groups:
        raise ConfigError(f"channels={channels} is not divisible by groups={groups} (deformable groups)")
    dev = torch.device(device)
    x, offset, mask, weight, bias = _inputs(batch=batch, channels=channels, groups=groups, kernel=kernel,
                                            height=height, width=width, device=dev, dtype=dtype, seed=seed)
    pad = kernel // 2
    deform = deform_fn or functools.partial(modulated_deform_conv2d, padding=pad, use_torchvision=False)

    def conv(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        return F.conv2d(x, weight, bias, padding=pad)

    grad = torch.randn((batch, channels, height, width), generator=torch.Generator().manual_seed(seed + 1))
    grad = grad.to(device=dev, dtype=dtype)
    runs = {
        "deform_forward": _forward(deform, (x, offset, mask, weight, bias)),
        "conv_forward": _forward(conv, (x, weight, bias)),
        "deform_train": _train(deform, (x, offset, mask, weight, bias), grad),
        "conv_train": _train(conv, (x, weight, bias), grad),
    }
    ms = _interleaved(runs, dev, warmup, repeats)
    shape = (f"deformable conv {channels}->{channels} {kernel}x{kernel}, {groups} deformable groups, "
             f"N={batch}, {height}x{width}, {str(dtype).removeprefix('torch.')}")
    return DeformBenchResult(shape=shape, device=device_name(dev), threads=torch.get_num_threads(),
                             repeats=repeats, deform_forward_ms=ms["deform_forward"],
                             conv_forward_ms=ms["conv_forward"], deform_train_ms=ms["deform_train"],
                             conv_train_ms=ms["conv_train"])


def _interleaved(
    runs: dict[str, Callable[[], None]], device: torch.device, warmup: int, repeats: int,
) -> dict[str, float]:
    """Median ms of each run; every round runs each of them once, in order."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(warmup + repeats):
        for name, run in runs.items():
            _sync(device)
            t0 = time.perf_counter()
            run()
            _sync(device)
            if i >= warmup:
                times[name].append(1e3 * (time.perf_counter() - t0))
    return {name: statistics.median(t) for name, t in times.items()}
