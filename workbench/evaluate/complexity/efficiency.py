"""How close each model gets to the machine: achieved GFLOP/s beside a GEMM peak measured in the same run.

A runtime ratio between two models reflects their architectures only if both run near the same fraction of
the machine's speed; an operator that runs far below it (e.g. a gather-bound deformable convolution) makes
the ratio measure the operator instead. So, per model:

- ``ms_per_frame`` at the runtime resolution (:func:`~workbench.evaluate.complexity.runtime.time_model`,
  its per-frame rule);
- ``gflops_paper`` / ``gflops_full``: 2 × MACs per output frame at the resolution actually fed
  (:mod:`.count`, meta device, steady state; full = every op including the deformable convolution);
- ``achieved_gflops_per_s`` = ``gflops_full`` / seconds per frame;
- ``peak_gemm_gflops_per_s``: the best of the float32 ``n × n @ n × n`` products (2n³ FLOPs each) that
  :class:`PeakProbe` timed right after each of the model's timed calls, so machine load from other
  processes hits the model and its peak alike (``n`` = 1024 on CPU, 4096 on CUDA);
- ``fraction_of_peak`` = achieved / peak.

:func:`time_vs_flops` gives, for two models, the ratio of their times beside the ratio of their FLOPs
(full and paper convention): equal ratios mean the runtime follows the FLOPs.
:func:`~workbench.evaluate.complexity.audit.efficiency_table` (``workbench bench efficiency``) adds the
paper-convention GFLOPs at 960×540 and the paper's reported GFLOPs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from workbench.evaluate.complexity.count import InputSpec, count_model
from workbench.evaluate.complexity.runtime import time_model

ModelFactory = Callable[[], nn.Module]


class PeakProbe:
    """Times one float32 ``n × n @ n × n`` product per call; :meth:`take` returns the best GFLOP/s since
    the previous take."""

    def __init__(self, *, device: str | torch.device = "cpu", n: int | None = None) -> None:
        self.device = torch.device(device)
        self.n = n or (4096 if self.device.type == "cuda" else 1024)
        gen = torch.Generator().manual_seed(0)
        self._a = torch.rand(self.n, self.n, generator=gen).to(self.device)
        self._b = torch.rand(self.n, self.n, generator=gen).to(self.device)
        self._rates: list[float] = []
        self()  # warm-up (allocations, BLAS thread start), not kept
        self._rates.clear()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __call__(self) -> None:
        self._sync()
        t0 = time.perf_counter()
        self._a @ self._b
        self._sync()
        self._rates.append(2 * self.n**3 / (time.perf_counter() - t0) / 1e9)

    def take(self) -> float:
        best = max(self._rates) if self._rates else float("nan")
        self._rates.clear()
        return best


@dataclass
class EfficiencyResult:
    method: str
    ms_per_frame: float
    runtime_resolution: tuple[int, int]  # (W, H) fed
    gflops_paper: float
    gflops_full: float
    achieved_gflops_per_s: float
    peak_gemm_gflops_per_s: float
    fraction_of_peak: float
    device: str
    threads: int
    rule: str


def measure_efficiency(
    factories: dict[str, ModelFactory],
    *,
    resolution: tuple[int, int] = (480, 272),
    device: str | torch.device = "cpu",
    warmup: int = 1,
    repeats: int = 5,
    clip_frames: int = 5,
    size_multiples: dict[str, int] | None = None,
    probe_n: int | None = None,
    seed: int = 0,
) -> list[EfficiencyResult]:
    """Time and count every model (id → constructor) in this one process (protocol in the module docstring).

    ``resolution`` = (W, H); a model's ``size_multiple`` attribute rounds what it is fed, and
    ``size_multiples[id]`` says to what size it pads internally (counted there: EDVR computes 960×544 at
    960×540)."""
    probe = PeakProbe(device=device, n=probe_n)
    out = []
    for name, factory in factories.items():
        torch.manual_seed(seed)
        model = factory()
        probe()  # one product before the model too: its first call may follow a cold start
        rt = time_model(name, model, resolution=resolution, device=device, warmup=warmup, repeats=repeats,
                        clip_frames=clip_frames, between=probe)
        peak = probe.take()
        w, h = rt.resolution
        spec = InputSpec(height=h, width=w, size_multiple=(size_multiples or {}).get(name))
        torch.manual_seed(seed)
        c = count_model(name, factory(), spec, device="meta")
        seconds = rt.ms_per_frame / 1e3
        achieved = 2 * c.macs_full / seconds / 1e9
        out.append(EfficiencyResult(method=name, ms_per_frame=rt.ms_per_frame, runtime_resolution=rt.resolution,
                                    gflops_paper=2 * c.macs_paper / 1e9, gflops_full=2 * c.macs_full / 1e9,
                                    achieved_gflops_per_s=achieved, peak_gemm_gflops_per_s=peak,
                                    fraction_of_peak=achieved / peak, device=rt.device, threads=rt.threads,
                                    rule=rt.rule))
        del model
    return out


def time_vs_flops(results: list[EfficiencyResult], slow: str, fast: str) -> dict[str, float] | None:
    """``time_ratio`` = ms(slow) / ms(fast) beside ``flops_ratio_full`` and ``flops_ratio_paper`` (the same
    ratio of FLOPs) and ``time_over_flops`` = time_ratio / flops_ratio_full (1 = the runtime follows the
    FLOPs); ``None`` when either model was not measured."""
    by = {r.method: r for r in results}
    if slow not in by or fast not in by:
        return None
    a, b = by[slow], by[fast]
    time_ratio = a.ms_per_frame / b.ms_per_frame
    full = a.gflops_full / b.gflops_full
    return {"time_ratio": time_ratio, "flops_ratio_full": full, "flops_ratio_paper": a.gflops_paper / b.gflops_paper,
            "time_over_flops": time_ratio / full}
