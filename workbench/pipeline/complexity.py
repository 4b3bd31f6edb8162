"""The ``complexity`` cell kind (pipelines/complexity.yaml): counts, parameters, runtime and efficiency,
fvcore cross-check, derived claims.

Registered in :mod:`workbench.pipeline.kinds`. Models are built from :data:`workbench.zoo.MODELS`
with their default (paper-size) arguments plus
``model_args[id]``; weights are random (seeded): complexity does not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from workbench.config import OMIT_AT_DEFAULT
from workbench.context import RunContext
from workbench.errors import ConfigError
from workbench.evaluate.complexity.audit import (
    complexity_rows,
    count_rows,
    format_resolution,
    parse_resolution,
    zoo_factories,
)
from workbench.evaluate.complexity.claims import flops_ratio_rows
from workbench.evaluate.complexity.count import InputSpec, count_model
from workbench.pipeline.cells import CellKind


@dataclass
class ComplexityCell:
    """One complexity measurement: ``models`` (zoo ids) on ``dataset`` at ``resolution`` ("WxH")."""

    models: list[str]
    dataset: Literal["set8", "crvd"] = "set8"
    #: output frame size W×H; each model's ``size_multiple`` may round it up (recorded per row)
    resolution: str = "960x540"
    #: input channels; None = the model's own (3 RGB); 4 for packed raw (CRVD) with matching model_args
    channels: int | None = None
    #: per-model constructor keyword arguments (e.g. ``{edvr: {...}}``)
    model_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: count at W, H rounded up to these multiples (over audit.KNOWN_SIZE_MULTIPLES, e.g. edvr: 16)
    size_multiples: dict[str, int] = field(default_factory=dict)
    #: transposed-conv rule of the paper column: "true" weight multiplies, or thop 0.1.1's formula
    convtranspose: Literal["true", "thop"] = "true"
    #: recurrent / bi-directional models: per-frame cost = cost(T) - cost(T-1) with T = steady_frames
    steady_frames: int = 5
    count_device: Literal["meta", "cpu"] = "meta"
    #: False for a runtime-only cell (no count rows)
    counts: bool = True
    #: also count on CPU and on meta at this small "WxH" and record whether they agree
    meta_check_resolution: str | None = None
    runtime: bool = False
    runtime_resolution: str | None = None  # None = resolution
    runtime_warmup: int = 1
    repeats: int = 3
    runtime_clip_frames: int = 5
    reference: str = "fastdvdnet"
    #: also count with fvcore's FlopCountAnalysis at this small "WxH" (real CPU tensors): gmacs_fvcore, its
    #: unsupported operators, and its ratio to our two counts at that size
    fvcore_resolution: str | None = field(default=None, metadata=OMIT_AT_DEFAULT)
    #: id and arguments of the dehazing configuration whose parameters Table 4 compares with CG-IDN
    dehaze_model: str | None = None
    dehaze_model_args: dict[str, Any] = field(default_factory=dict)
    #: method id of its ``params_m`` row (dataset ``revide``, setting ``default``), as in the reported table
    dehaze_method: str = "ncfl-uni"
    seed: int = 0

    def validate(self) -> None:
        """Range and meaning of every key; raises :class:`ConfigError` naming the key."""
        if not self.models:
            raise ConfigError("models: an empty list measures nothing; list zoo model ids")
        for key in ("resolution", "meta_check_resolution", "runtime_resolution", "fvcore_resolution"):
            value = getattr(self, key)
            if value is not None:
                w, h = parse_resolution(value)
                if w < 1 or h < 1:
                    raise ConfigError(f"{key}: width and height must be at least 1, got {value!r}")
        if self.channels is not None and self.channels < 1:
            raise ConfigError(f"channels: must be at least 1 or null, got {self.channels}")
        for name, m in self.size_multiples.items():
            if m < 1:
                raise ConfigError(f"size_multiples.{name}: must be at least 1, got {m}")
        if self.steady_frames < 2:  # cost(T) - cost(T-1) needs two lengths
            raise ConfigError(f"steady_frames: must be at least 2, got {self.steady_frames}")
        for key in ("repeats", "runtime_clip_frames"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be at least 1, got {getattr(self, key)}")
        if self.runtime_warmup < 0:
            raise ConfigError(f"runtime_warmup: must be 0 or more, got {self.runtime_warmup}")


def _meta_check(name: str, factory: Any, wh: tuple[int, int], spec: InputSpec, seed: int) -> str:
    small = InputSpec(height=wh[1], width=wh[0], channels=spec.channels, steady_frames=spec.steady_frames)
    torch.manual_seed(seed)
    real = count_model(name, factory(), small, device="cpu")
    torch.manual_seed(seed)
    meta = count_model(name, factory(), small, device="meta")
    same = real.macs_paper == meta.macs_paper and real.macs_full == meta.macs_full
    return "equal" if same else f"differs (cpu {real.macs_full:.6g} vs meta {meta.macs_full:.6g} MAC)"


def run(p: ComplexityCell, ctx: RunContext) -> list[dict[str, Any]]:
    wh = parse_resolution(p.resolution)
    factories = zoo_factories(p.models, p.model_args)
    spec = InputSpec(height=wh[1], width=wh[0], channels=p.channels, steady_frames=p.steady_frames)
    rows = complexity_rows(
        factories, dataset=p.dataset, resolution=wh, size_multiples=p.size_multiples, channels=p.channels,
        steady_frames=p.steady_frames,
        count_device=p.count_device, counts=p.counts, transposed=p.convtranspose, runtime=p.runtime,
        runtime_resolution=parse_resolution(p.runtime_resolution) if p.runtime_resolution else None,
        runtime_device=ctx.device, warmup=p.runtime_warmup, repeats=p.repeats,
        clip_frames=p.runtime_clip_frames, reference=p.reference, seed=p.seed,
        fvcore_resolution=parse_resolution(p.fvcore_resolution) if p.fvcore_resolution else None,
    )
    rows += flops_ratio_rows(rows)
    if p.meta_check_resolution and p.counts:
        small = parse_resolution(p.meta_check_resolution)
        checks = {n: _meta_check(n, f, small, spec, p.seed) for n, f in factories.items()}
        ctx.notes["meta_check"] = {"resolution": format_resolution(small), **checks}
        for r in rows:
            if r["method"] in checks and r["metric"].startswith("gmacs"):
                r["meta_check"] = checks[r["method"]]
    if p.dehaze_model:
        torch.manual_seed(p.seed)
        model = zoo_factories([p.dehaze_model], {p.dehaze_model: p.dehaze_model_args})[p.dehaze_model]()
        n = sum(t.numel() for t in model.parameters())
        rows.append({"method": p.dehaze_method, "dataset": "revide", "setting": "default",
                     "metric": "params_m", "value": n / 1e6,
                     "model": p.dehaze_model, "model_args": repr(sorted(p.dehaze_model_args.items()))})
    ctx.notes["conventions"] = {
        "paper": "thop 0.1.1 module rules by exact type, FLOPs = 2 x MACs, main deformable conv not counted",
        "full": "every aten op (workbench.evaluate.complexity.handlers), DCN closed form (deform.py)",
        "fvcore": "fvcore FlopCountAnalysis, jit trace on CPU tensors, one multiply-add = one flop; "
                  "unsupported operators listed per row (the plain DCN is one opaque PythonOp)",
        "per_frame": "window: one forward; recurrent/clip: cost(T)-cost(T-1)",
    }
    return rows


COMPLEXITY_CELL = CellKind(schema=ComplexityCell, run=run)

__all__ = ["COMPLEXITY_CELL", "ComplexityCell", "count_rows", "run"]
