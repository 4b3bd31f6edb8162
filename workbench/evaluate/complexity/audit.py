"""The complexity audit: counts (two conventions), parameters and optional runtime as long-format rows.

Row columns: ``method, dataset, setting, metric, value`` plus ``convention``, ``counted_resolution``
(W×H actually fed, e.g. ``960x544`` for EDVR), ``per_frame_rule``, ``uncounted_ops`` (aten ops without
a formula in the full count, ``name:calls;...``; empty when coverage is complete) and
``paper_uncovered_modules`` (module types with own parameters that thop-style counting cannot see).
Metrics: ``gmacs_paper``, ``gflops_paper`` (= 2 × gmacs_paper), ``gmacs_full``, ``gflops_full``,
``params_m``, and with runtime ``ms_per_frame`` and ``runtime_ratio_<reference>``. Resolutions are
written and parsed as ``"WxH"`` (``"960x540"``); tuples are ``(W, H)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch
from torch import nn

from workbench.atomic import write_text
from workbench.errors import ConfigError
from workbench.evaluate.complexity.count import InputSpec, ModelCount, count_model
from workbench.evaluate.complexity.runtime import ratios, runtime_table
from workbench.zoo import MODELS

ModelFactory = Callable[[], nn.Module]

PAPER_CONVENTION = "thop-style module hooks; main deformable conv not counted"
FULL_CONVENTION = "all aten ops; deformable conv by closed form"

#: models that pad their input internally to a multiple of this (EDVR with ``hr_in`` needs H, W divisible
#: by 16, so 960x540 runs as 960x544); counting at the padded size records what was actually computed.
#: A model's own ``size_multiple`` attribute, or the cell's ``size_multiples``, take precedence.
KNOWN_SIZE_MULTIPLES: dict[str, int] = {"edvr": 16}


def parse_resolution(value: str | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``"960x540"`` or ``(960, 540)`` → ``(W, H)``."""
    if isinstance(value, str):
        parts = value.lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ConfigError(f"resolution {value!r}: expected 'WIDTHxHEIGHT', e.g. '960x540'")
        return int(parts[0]), int(parts[1])
    w, h = value
    return int(w), int(h)


def format_resolution(wh: tuple[int, int]) -> str:
    return f"{wh[0]}x{wh[1]}"


def zoo_factories(
    models: list[str], model_args: dict[str, dict[str, Any]] | None = None
) -> dict[str, ModelFactory]:
    """Constructors from :data:`workbench.zoo.MODELS` (default full-size keyword arguments)."""
    args = model_args or {}
    out: dict[str, ModelFactory] = {}
    for name in models:
        ctor = MODELS.get(name)
        kwargs = dict(args.get(name, {}))
        out[name] = lambda ctor=ctor, kwargs=kwargs: ctor(**kwargs)  # type: ignore[misc]
    return out


def count_rows(c: ModelCount, *, dataset: str, setting: str) -> list[dict[str, Any]]:
    uncounted = ";".join(f"{k}:{v}" for k, v in sorted(c.uncounted_ops.items()))
    common = {"method": c.method, "dataset": dataset, "setting": setting,
              "counted_resolution": format_resolution((c.counted_resolution[1], c.counted_resolution[0])),
              "per_frame_rule": c.per_frame_rule}
    paper = {"convention": PAPER_CONVENTION, "paper_uncovered_modules": ";".join(c.uncovered_modules)}
    full = {"convention": FULL_CONVENTION, "uncounted_ops": uncounted}
    return [
        {**common, **paper, "metric": "gmacs_paper", "value": c.macs_paper / 1e9},
        {**common, **paper, "metric": "gflops_paper", "value": 2 * c.macs_paper / 1e9},
        {**common, **full, "metric": "gmacs_full", "value": c.macs_full / 1e9},
        {**common, **full, "metric": "gflops_full", "value": 2 * c.macs_full / 1e9},
        {**common, "metric": "params_m", "value": c.params / 1e6},
    ]


def complexity_rows(
    factories: dict[str, ModelFactory],
    *,
    dataset: str = "set8",
    resolution: tuple[int, int] = (960, 540),
    size_multiples: dict[str, int] | None = None,
    channels: int | None = None,
    steady_frames: int = 5,
    count_device: str = "meta",
    transposed: Literal["true", "thop"] = "true",
    counts: bool = True,
    runtime: bool = False,
    runtime_resolution: tuple[int, int] | None = None,
    runtime_device: str = "cpu",
    warmup: int = 1,
    repeats: int = 3,
    clip_frames: int = 5,
    reference: str = "fastdvdnet",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows for every model; runtimes (if asked) are measured in this one process, ratios to ``reference``."""
    setting = format_resolution(resolution)
    multiples = {**KNOWN_SIZE_MULTIPLES, **(size_multiples or {})}
    rows: list[dict[str, Any]] = []
    for name, factory in factories.items() if counts else ():
        torch.manual_seed(seed)
        model = factory()
        own = int(getattr(model, "size_multiple", 1) or 1)
        spec = InputSpec(height=resolution[1], width=resolution[0], channels=channels,
                         steady_frames=steady_frames, size_multiple=own if own > 1 else multiples.get(name))
        c = count_model(name, model, spec, device=count_device, transposed=transposed)
        rows += count_rows(c, dataset=dataset, setting=setting)
    if runtime:
        rt_res = runtime_resolution or resolution
        results = runtime_table(factories, resolution=rt_res, device=runtime_device, warmup=warmup,
                                repeats=repeats, clip_frames=clip_frames)
        rel = ratios(results, reference)
        for r in results:
            extra = {"runtime_resolution": format_resolution(r.resolution), "device": r.device,
                     "threads": r.threads, "repeats": r.repeats, "warmup": r.warmup, "per_frame_rule": r.rule}
            base = {"method": r.method, "dataset": dataset, "setting": setting, **extra}
            rows.append({**base, "metric": "ms_per_frame", "value": r.ms_per_frame})
            if r.method in rel:
                rows.append({**base, "metric": f"runtime_ratio_{reference}", "value": rel[r.method],
                             "reference": reference})
    return rows


def audit_complexity(
    *,
    models: list[str],
    resolution: tuple[int, int] | str = (960, 540),
    out_csv: Path | None = None,
    runtime: bool = False,
    dataset: str = "set8",
    runtime_resolution: tuple[int, int] | str | None = None,
    repeats: int = 3,
    device: str = "cpu",
) -> pd.DataFrame:
    """CLI entry (``workbench audit complexity``): count ``models`` (zoo ids) at ``resolution`` (W, H)."""
    wh = parse_resolution(resolution)
    rt = parse_resolution(runtime_resolution) if runtime_resolution is not None else None
    rows = complexity_rows(zoo_factories(models), dataset=dataset, resolution=wh, runtime=runtime,
                           runtime_resolution=rt, runtime_device=device, repeats=repeats)
    df = pd.DataFrame(rows)
    if out_csv is not None:
        write_text(Path(out_csv), df.to_csv(index=False))
    return df


def benchmark_runtime(
    *,
    models: list[str],
    resolution: tuple[int, int] | str = (960, 540),
    device: str = "cpu",
    warmup: int = 1,
    repeats: int = 5,
    reference: str = "fastdvdnet",
    print_fn: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Time ``models`` in one run and print ms/frame and the ratio to ``reference`` for each."""
    results = runtime_table(zoo_factories(models), resolution=parse_resolution(resolution), device=device,
                            warmup=warmup, repeats=repeats)
    rel = ratios(results, reference)
    df = pd.DataFrame([{"method": r.method, "ms_per_frame": r.ms_per_frame,
                        f"ratio_{reference}": rel.get(r.method, float("nan")),
                        "resolution": format_resolution(r.resolution), "device": r.device,
                        "threads": r.threads, "repeats": r.repeats, "rule": r.rule} for r in results])
    print_fn(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return df
