"""The ``raw-complexity`` cell kind (Table 2's runtime column, complexity rows of the raw models).

Like the ``complexity`` kind (:mod:`workbench.pipeline.complexity`, same counters and timer), but every row
is named by the **method** of the paper's table (``fastdvdnet``, ``emvd-l``, ``ncfl-l`` …) while the model is
any registry id with arguments (``fastdvdnet-raw``, ``ncfl`` with ``{preset: L, in_channels: 4}``). Count
rows have setting ``960x540`` (the packed frame counted); runtime rows ``runtime-<W>x<H>-packed`` (the
measured size), beside the paper's ``P100-1080p`` milliseconds, which stay a reported setting of their own.
Inputs are packed raw, 4 channels: a ``960x540`` packed frame is one 1080×1920 CRVD frame. Runtimes are
measured one after the other in this process (ms per output frame) and divided by the ``reference``
method's (FastDVDNet) from the same run; on a CPU at the stated smaller ``runtime_resolution``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.context import RunContext
from workbench.errors import ConfigError
from workbench.evaluate.complexity.audit import ModelFactory, complexity_rows, parse_resolution
from workbench.pipeline.cells import CellKind
from workbench.zoo import MODELS


@dataclass
class MethodModel:
    """The registry model (and its keyword arguments) that stands for one method."""

    model: str
    model_args: dict[str, Any] = field(default_factory=dict)


@dataclass
class RawComplexityCell:
    methods: dict[str, MethodModel]
    dataset: str = "crvd"
    resolution: str = "960x540"
    counts: bool = True
    runtime: bool = True
    runtime_resolution: str | None = None
    runtime_warmup: int = 1
    repeats: int = 3
    runtime_clip_frames: int = 5
    reference: str = "fastdvdnet"
    steady_frames: int = 5
    seed: int = 0
    #: accepted only as null: they clear a raw-restoration profile's defaults, which reach every cell
    pretrain: None = None
    train: None = None
    evaluate: None = None

    def validate(self) -> None:
        if any(getattr(self, k) is not None for k in ("pretrain", "train", "evaluate")):
            raise ConfigError("pretrain/train/evaluate: a raw-complexity cell trains and evaluates nothing; "
                              "set them null")
        if not self.methods:
            raise ConfigError("methods: an empty mapping measures nothing; map method ids to {model, model_args}")
        if self.runtime and self.reference not in self.methods:
            raise ConfigError(f"reference: {self.reference!r} is not among methods {sorted(self.methods)}")
        for key in ("resolution", "runtime_resolution"):
            if getattr(self, key) is not None:
                parse_resolution(getattr(self, key))
        for key in ("repeats", "runtime_clip_frames"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be at least 1, got {getattr(self, key)}")
        if self.steady_frames < 2:
            raise ConfigError(f"steady_frames: must be at least 2, got {self.steady_frames}")


def factories(methods: dict[str, MethodModel]) -> dict[str, ModelFactory]:
    out: dict[str, ModelFactory] = {}
    for method, m in methods.items():
        ctor = MODELS.get(m.model)
        out[method] = lambda ctor=ctor, kw=dict(m.model_args): ctor(**kw)  # type: ignore[misc]
    return out


def run(p: RawComplexityCell, ctx: RunContext) -> list[dict[str, Any]]:
    rows = complexity_rows(
        factories(p.methods), dataset=p.dataset, resolution=parse_resolution(p.resolution), channels=4,
        steady_frames=p.steady_frames, counts=p.counts, runtime=p.runtime,
        runtime_resolution=parse_resolution(p.runtime_resolution) if p.runtime_resolution else None,
        runtime_device=ctx.device, warmup=p.runtime_warmup, repeats=p.repeats, clip_frames=p.runtime_clip_frames,
        reference=p.reference, seed=p.seed)
    for r in rows:
        m = p.methods[r["method"]]
        r.update({"level": "dataset", "model": m.model, "model_args": repr(sorted(m.model_args.items()))})
        if r["metric"] == "ms_per_frame" or r["metric"].startswith("runtime_ratio"):
            # the measured size, not the counted one: the paper's column (P100, 1080p) is another setting
            r["setting"] = f"runtime-{r['runtime_resolution']}-packed"
    ctx.notes["conventions"] = {"input": "packed raw 4 x H x W (960x540 packed = one 1080x1920 raw frame)",
                                "runtime": "one process, ratios to the reference from the same run"}
    return rows


RAW_COMPLEXITY_CELL = CellKind(schema=RawComplexityCell, run=run)

__all__ = ["RAW_COMPLEXITY_CELL", "MethodModel", "RawComplexityCell", "factories", "run"]
