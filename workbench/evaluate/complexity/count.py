"""Per-output-frame MAC counts of a restoration model in two conventions, shape-only on the meta device.

- ``macs_paper``: thop-style module hooks (:mod:`.thop_style`), main deformable convolution not counted —
  the convention that reproduces the paper's baseline numbers (docs/complexity.md §1).
- ``macs_full``: every aten op (:mod:`.dispatch`, :mod:`.handlers`), deformable convolution by its closed
  form (:mod:`.deform`); ``uncounted_ops`` lists ops with no formula (must be empty).

Per output frame, steady state (``per_frame_rule``):

- ``"window"`` models: one forward of a ``(1, window, C, H, W)`` clip (returns the centre frame);
- ``"recurrent"`` and ``"clip"`` (bi-directional) models: ``cost(T) − cost(T−1)`` of ``forward`` on clips of
  ``T = steady_frames`` and ``T − 1`` frames (the first frames have no flow/alignment, and a clip model's
  cost grows by exactly one frame's worth per added frame).

Inputs are float32 ``(N=1, T, C, H, W)``; ``noise_map`` ``(1, 1, H, W)`` for non-blind models. The counted
resolution is the requested one rounded up to ``size_multiple`` (EDVR: 16 → 960×544), and recorded.
On ``device="meta"`` no convolution is executed, so full 960×540 counts take seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from workbench.errors import ConfigError
from workbench.evaluate.complexity.deform import deform_rules
from workbench.evaluate.complexity.dispatch import FullCounter, FunctionRule
from workbench.evaluate.complexity.thop_style import PaperCounter
from workbench.models.spynet import no_flow_memo
from workbench.ops.deform_conv import plain_implementation

ModelFactory = Callable[[], nn.Module]


@dataclass(frozen=True)
class InputSpec:
    """What to feed a model when counting; ``None`` fields are read from the model's attributes."""

    height: int = 540
    width: int = 960
    channels: int | None = None  # model.in_channels
    size_multiple: int | None = None  # model.size_multiple, default 1
    noise_map: bool | None = None  # model.uses_noise_map
    steady_frames: int = 5


@dataclass
class ModelCount:
    method: str
    macs_paper: float
    macs_full: float
    params: int
    counted_resolution: tuple[int, int]  # (H, W)
    per_frame_rule: str
    uncounted_ops: dict[str, int] = field(default_factory=dict)
    uncovered_modules: list[str] = field(default_factory=list)
    full_by_op: dict[str, float] = field(default_factory=dict)
    paper_by_type: dict[str, float] = field(default_factory=dict)


def _round_up(x: int, m: int) -> int:
    return int(math.ceil(x / m) * m)


def counted_resolution(model: nn.Module, spec: InputSpec) -> tuple[int, int]:
    m = spec.size_multiple or int(getattr(model, "size_multiple", 1) or 1)
    return _round_up(spec.height, m), _round_up(spec.width, m)


def _make_run(model: nn.Module, spec: InputSpec, frames: int, device: torch.device) -> Callable[[], Any]:
    h, w = counted_resolution(model, spec)
    c = spec.channels or int(getattr(model, "in_channels", 3))
    use_noise = bool(getattr(model, "uses_noise_map", False)) if spec.noise_map is None else spec.noise_map
    k = int(getattr(model, "noise_map_channels", 1))  # raw models take the ISO's [a_n, b_n] planes

    def run() -> Any:
        clip = torch.rand(1, frames, c, h, w, device=device)
        if use_noise:
            return model(clip, torch.full((1, k, h, w), 0.1, device=device))
        return model(clip)

    return run


def _measure(
    model: nn.Module,
    run: Callable[[], Any],
    rules: Sequence[FunctionRule],
    transposed: Literal["true", "thop"],
) -> tuple[PaperCounter, FullCounter]:
    paper = PaperCounter(model, transposed=transposed)
    full = FullCounter(rules)
    with torch.no_grad(), paper, full:
        run()
    return paper, full


def _diff(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    keys = set(a) | set(b)
    return {k: float(a.get(k, 0.0) - b.get(k, 0.0)) for k in sorted(keys) if a.get(k, 0.0) != b.get(k, 0.0)}


def count_model(
    method: str,
    model: nn.Module,
    spec: InputSpec = InputSpec(),
    *,
    device: str | torch.device = "meta",
    transposed: Literal["true", "thop"] = "true",
    rules: Sequence[FunctionRule] | None = None,
) -> ModelCount:
    """Count one model (moved to ``device``; the caller's module is modified) per output frame."""
    device = torch.device(device)
    params = sum(p.numel() for p in model.parameters())
    model = model.to(device).eval()
    rules = deform_rules() if rules is None else rules
    mode = str(getattr(model, "temporal_mode", "window"))
    uncovered = PaperCounter(model).uncovered_modules()
    # the plain deformable convolution on every device: the count is of the operator, not of the kernel that
    # runs it (the native kernel's wrapper adds a bounds test the meta device does not see)
    with plain_implementation("current"), no_flow_memo():
        return _count(method, model, spec, device=device, transposed=transposed, rules=rules, mode=mode,
                      params=params, uncovered=uncovered)


def _count(method: str, model: nn.Module, spec: InputSpec, *, device: torch.device,
           transposed: Literal["true", "thop"], rules: Sequence[FunctionRule], mode: str, params: int,
           uncovered: list[str]) -> ModelCount:
    try:
        if mode == "window":
            window = int(getattr(model, "window", 1))
            paper, full = _measure(model, _make_run(model, spec, window, device), rules, transposed)
            macs_paper, macs_full = paper.total, full.total
            by_op = {k: float(v) for k, v in full.by_op.items()}
            by_type = {k: float(v) for k, v in paper.by_type.items()}
            uncounted = dict(full.uncounted)
            rule = f"one forward of a {window}-frame window"
        elif mode in ("recurrent", "clip"):
            t = spec.steady_frames
            if t < 2:
                raise ConfigError(f"{method}: steady_frames must be >= 2, got {t}")
            p1, f1 = _measure(model, _make_run(model, spec, t, device), rules, transposed)
            p0, f0 = _measure(model, _make_run(model, spec, t - 1, device), rules, transposed)
            macs_paper, macs_full = p1.total - p0.total, f1.total - f0.total
            by_op, by_type = _diff(f1.by_op, f0.by_op), _diff(p1.by_type, p0.by_type)
            uncounted = dict(f1.uncounted + f0.uncounted)
            rule = f"cost(T={t}) - cost(T={t - 1})"
        else:
            raise ConfigError(f"{method}: unknown temporal_mode {mode!r}")
    except (NotImplementedError, RuntimeError) as exc:
        if device.type == "meta" and "meta" in str(exc).lower():
            raise ConfigError(
                f"{method}: cannot be counted on the meta device ({exc}); "
                "count with device='cpu' at a small size"
            ) from None
        raise
    return ModelCount(
        method=method,
        macs_paper=macs_paper,
        macs_full=macs_full,
        params=params,
        counted_resolution=counted_resolution(model, spec),
        per_frame_rule=rule,
        uncounted_ops=uncounted,
        uncovered_modules=uncovered,
        full_by_op=by_op,
        paper_by_type=by_type,
    )


def count_models(
    factories: dict[str, ModelFactory],
    specs: dict[str, InputSpec] | None = None,
    *,
    default_spec: InputSpec = InputSpec(),
    device: str | torch.device = "meta",
    transposed: Literal["true", "thop"] = "true",
) -> list[ModelCount]:
    """Count every model in ``factories`` (id → zero-argument constructor)."""
    specs = specs or {}
    return [
        count_model(name, factory(), specs.get(name, default_spec), device=device, transposed=transposed)
        for name, factory in factories.items()
    ]
