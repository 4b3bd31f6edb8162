"""How close the paper's model gets to the machine: GFLOPs per frame against the paper's cost, CPU
ms/frame, and the achieved GFLOP/s as a fraction of a dense matrix-multiply GFLOP/s **measured in the same
run** (so the ratio, not the absolute speed, is what compares across machines).

``efficiency_table(models)`` returns one row per model: ``gflops_paper`` (2 × thop-style MACs per
960×540 output frame, steady state), ``gflops_reported`` (the paper's Tables 1/8 from the package's reported table,
:mod:`workbench.store.reported`; never typed in code), ``ratio_to_reported``, ``ms_per_frame`` at
``runtime_resolution`` (W×H),
``achieved_gflops_per_s`` = full-convention FLOPs of one frame at the runtime resolution / time,
``matmul_gflops_per_s`` (float32 ``n×n @ n×n``, 2n³ FLOPs, median of repeats) and
``fraction_of_matmul``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pandas as pd
import torch

from workbench.evaluate.complexity.audit import zoo_factories
from workbench.evaluate.complexity.count import InputSpec, count_model
from workbench.evaluate.complexity.runtime import time_model
from workbench.store.reported import load_reported


def matmul_gflops(n: int = 2048, repeats: int = 5, device: str = "cpu") -> float:
    """Dense float32 matrix multiply throughput in GFLOP/s (2·n³ FLOPs per product), median of ``repeats``."""
    a = torch.rand(n, n, device=device)
    b = torch.rand(n, n, device=device)
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def _reported_gflops(method: str) -> float:
    rep = load_reported()
    hit = rep[(rep["method"] == method) & (rep["metric"] == "gflops") & (rep["dataset"] == "set8")]
    return float(hit["value_reported"].iloc[0]) if len(hit) else float("nan")


def efficiency_table(models: list[str], *, runtime_resolution: tuple[int, int] = (480, 272),
                     repeats: int = 3, device: str = "cpu") -> pd.DataFrame:
    factories = zoo_factories(models)
    peak = matmul_gflops(device=device)
    rows: list[dict[str, Any]] = []
    for name, factory in factories.items():
        full_res = count_model(name, factory(), InputSpec(), device="meta")
        w, h = runtime_resolution
        at_runtime = count_model(name, factory(), InputSpec(height=h, width=w), device="meta")
        rt = time_model(name, factory(), resolution=runtime_resolution, device=device, repeats=repeats)
        achieved = 2 * at_runtime.macs_full / (rt.ms_per_frame / 1e3) / 1e9
        reported = _reported_gflops(name)
        gflops = 2 * full_res.macs_paper / 1e9
        rows.append({"method": name, "gflops_paper": gflops, "gflops_reported": reported,
                     "ratio_to_reported": gflops / reported, "runtime_resolution": f"{w}x{h}",
                     "ms_per_frame": rt.ms_per_frame, "achieved_gflops_per_s": achieved,
                     "matmul_gflops_per_s": peak, "fraction_of_matmul": achieved / peak,
                     "threads": rt.threads, "device": rt.device, "rule": rt.rule})
    return pd.DataFrame(rows)
