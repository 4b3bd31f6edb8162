"""Complexity audit: MACs/FLOPs per output frame in two conventions, parameters, runtime, memory.

- :mod:`.count` — per-frame counts on the meta device: ``macs_paper`` (thop-style, :mod:`.thop_style`)
  and ``macs_full`` (every aten op, :mod:`.dispatch` + :mod:`.handlers`, deformable conv :mod:`.deform`);
- :mod:`.fvcore_count` — fvcore's ``FlopCountAnalysis`` as a third count, with its unsupported operators;
- :mod:`.runtime` — ms per frame; :mod:`.efficiency` — achieved GFLOP/s beside a GEMM peak from the same run;
  :mod:`.memory` — peak memory vs sequence length; :mod:`.deform_bench` — deformable vs regular convolution;
- :mod:`.audit` — long-format rows, ``audit_complexity`` and ``benchmark_runtime`` (CLI entries);
- :mod:`.claims` — derived ratios. The ``complexity`` cell kind is :mod:`workbench.pipeline.complexity`.

FLOPs = 2 × MACs throughout.
"""

from workbench.evaluate.complexity.audit import audit_complexity, benchmark_runtime, complexity_rows
from workbench.evaluate.complexity.count import InputSpec, ModelCount, count_model, count_models
from workbench.evaluate.complexity.memory import benchmark_memory

__all__ = [
    "InputSpec",
    "ModelCount",
    "audit_complexity",
    "benchmark_memory",
    "benchmark_runtime",
    "complexity_rows",
    "count_model",
    "count_models",
]
