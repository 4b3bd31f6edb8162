"""The complexity audit: counts (two conventions), parameters and optional runtime as long-format rows.

Row columns: ``method, dataset, setting, metric, value`` plus ``convention``, ``counted_resolution``
(W×H actually fed, e.g. ``960x544`` for EDVR), ``per_frame_rule``, ``uncounted_ops`` (aten ops without
a formula in the full count, ``name:calls;...``; empty when coverage is complete) and
``paper_uncovered_modules`` (module types with own parameters that thop-style counting cannot see).
Metrics: ``gmacs_paper``, ``gflops_paper`` (= 2 × gmacs_paper), ``gmacs_full``, ``gflops_full``,
``params_m``; with runtime ``ms_per_frame``, ``runtime_ratio_<reference>``, ``achieved_gflops_per_s``,
``peak_gemm_gflops_per_s`` and ``fraction_of_peak`` (:mod:`.efficiency`: the peak is measured between the
model's own timed calls); with an fvcore resolution ``gmacs_fvcore`` (:mod:`.fvcore_count`, its
``fvcore_unsupported_ops`` column listing what fvcore could not count) and ``fvcore_ratio_paper`` /
``fvcore_ratio_full`` (fvcore ÷ the thop-style / dispatch count at the same resolution). Resolutions are
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
from workbench.evaluate.complexity.efficiency import EfficiencyResult, measure_efficiency, time_vs_flops
from workbench.evaluate.complexity.fvcore_count import fvcore_count
from workbench.ops.deform_conv import plain_implementation
from workbench.store.reported import load_reported
from workbench.zoo import MODELS

ModelFactory = Callable[[], nn.Module]

PAPER_CONVENTION = "thop-style module hooks; main deformable conv not counted"
FULL_CONVENTION = "all aten ops; deformable conv by closed form"
FVCORE_CONVENTION = "fvcore FlopCountAnalysis (jit trace, real CPU tensors); one multiply-add = one flop"

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
    fvcore_resolution: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """Rows for every model; runtimes (if asked) are measured in this one process, ratios to ``reference``;
    fvcore counts (if ``fvcore_resolution`` is given) are made at that (W, H) on CPU."""
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
        results = measure_efficiency(factories, resolution=runtime_resolution or resolution,
                                     device=runtime_device, warmup=warmup, repeats=repeats,
                                     clip_frames=clip_frames, size_multiples=multiples, seed=seed)
        rows += runtime_rows(results, dataset=dataset, setting=setting, reference=reference, warmup=warmup,
                             repeats=repeats)
    if fvcore_resolution is not None:
        rows += fvcore_rows(factories, resolution=fvcore_resolution, multiples=multiples, channels=channels,
                            steady_frames=steady_frames, dataset=dataset, setting=setting, seed=seed)
    return rows


def runtime_rows(results: list[EfficiencyResult], *, dataset: str, setting: str, reference: str, warmup: int,
                 repeats: int) -> list[dict[str, Any]]:
    """``ms_per_frame``, ``runtime_ratio_<reference>`` and the efficiency metrics of each timed model."""
    ref = next((r.ms_per_frame for r in results if r.method == reference), None)
    rows = []
    for r in results:
        base = {"method": r.method, "dataset": dataset, "setting": setting,
                "runtime_resolution": format_resolution(r.runtime_resolution), "device": r.device,
                "threads": r.threads, "repeats": repeats, "warmup": warmup, "per_frame_rule": r.rule}
        rows.append({**base, "metric": "ms_per_frame", "value": r.ms_per_frame})
        if ref:
            rows.append({**base, "metric": f"runtime_ratio_{reference}", "value": r.ms_per_frame / ref,
                         "reference": reference})
        rows += [{**base, "metric": "achieved_gflops_per_s", "value": r.achieved_gflops_per_s,
                  "convention": f"{FULL_CONVENTION}, per frame at the runtime resolution / time"},
                 {**base, "metric": "peak_gemm_gflops_per_s", "value": r.peak_gemm_gflops_per_s,
                  "convention": "best float32 GEMM timed between this model's timed calls"},
                 {**base, "metric": "fraction_of_peak", "value": r.fraction_of_peak}]
    return rows


def fvcore_rows(
    factories: dict[str, ModelFactory], *, resolution: tuple[int, int], multiples: dict[str, int],
    channels: int | None, steady_frames: int, dataset: str, setting: str, seed: int,
) -> list[dict[str, Any]]:
    """fvcore's count of each model at ``resolution`` (W, H) beside ours at the same size."""
    rows = []
    for name, factory in factories.items():
        torch.manual_seed(seed)
        model = factory()
        own = int(getattr(model, "size_multiple", 1) or 1)
        spec = InputSpec(height=resolution[1], width=resolution[0], channels=channels,
                         steady_frames=steady_frames, size_multiple=own if own > 1 else multiples.get(name))
        f = fvcore_count(name, model, spec)
        torch.manual_seed(seed)
        ours = count_model(name, factory(), spec, device="meta")
        base = {"method": name, "dataset": dataset, "setting": setting, "per_frame_rule": f.per_frame_rule,
                "counted_resolution": format_resolution((f.counted_resolution[1], f.counted_resolution[0])),
                "convention": FVCORE_CONVENTION, "fvcore_unsupported_ops": f.unsupported_text()}
        rows += [{**base, "metric": "gmacs_fvcore", "value": f.macs / 1e9},
                 {**base, "metric": "fvcore_ratio_paper", "value": f.macs / ours.macs_paper},
                 {**base, "metric": "fvcore_ratio_full", "value": f.macs / ours.macs_full}]
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
    fvcore_resolution: tuple[int, int] | str | None = None,
) -> pd.DataFrame:
    """CLI entry (``workbench audit complexity``): count ``models`` (zoo ids) at ``resolution`` (W, H),
    and with fvcore at ``fvcore_resolution`` if given."""
    wh = parse_resolution(resolution)
    rt = parse_resolution(runtime_resolution) if runtime_resolution is not None else None
    fv = parse_resolution(fvcore_resolution) if fvcore_resolution is not None else None
    rows = complexity_rows(zoo_factories(models), dataset=dataset, resolution=wh, runtime=runtime,
                           runtime_resolution=rt, runtime_device=device, repeats=repeats, fvcore_resolution=fv)
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
    compare: tuple[str, str] = ("basicvsrpp-uni", "ncfl-uni"),
    deform_impl: str = "auto",
    print_fn: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Time ``models`` in one run; print ms/frame, the ratio to ``reference``, GFLOPs per frame, achieved
    GFLOP/s beside the GEMM peak measured between the model's calls, and for the pair ``compare`` (slow,
    fast) their time ratio beside their FLOPs ratio. ``deform_impl``: ``"auto"`` the models' default
    deformable convolution, ``"current"`` / ``"legacy"`` the plain one / the plain one it replaced,
    ``"native"`` the native CPU kernel (:func:`workbench.ops.deform_conv.plain_implementation`)."""
    with plain_implementation(deform_impl):
        results = measure_efficiency(zoo_factories(models), resolution=parse_resolution(resolution),
                                     device=device, warmup=warmup, repeats=repeats,
                                     size_multiples=KNOWN_SIZE_MULTIPLES)
    ref = next((r.ms_per_frame for r in results if r.method == reference), float("nan"))
    df = pd.DataFrame([{"method": r.method, "ms_per_frame": r.ms_per_frame,
                        f"ratio_{reference}": r.ms_per_frame / ref, "gflops_full": r.gflops_full,
                        "gflops_paper": r.gflops_paper, "achieved_gflops_per_s": r.achieved_gflops_per_s,
                        "peak_gemm_gflops_per_s": r.peak_gemm_gflops_per_s,
                        "fraction_of_peak": r.fraction_of_peak,
                        "resolution": format_resolution(r.runtime_resolution), "device": r.device,
                        "threads": r.threads, "repeats": repeats, "rule": r.rule} for r in results])
    print_fn(f"deformable convolution: {deform_impl} implementation")
    print_fn(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    pair = time_vs_flops(results, *compare)
    if pair is not None:
        print_fn(f"{compare[0]} / {compare[1]}: time {pair['time_ratio']:.2f}x, FLOPs {pair['flops_ratio_full']:.2f}x "
                 f"(all ops; {pair['flops_ratio_paper']:.2f}x paper convention); time ratio / FLOPs ratio "
                 f"{pair['time_over_flops']:.2f}")
    return df


def _reported_gflops(method: str) -> float:
    rep = load_reported()
    hit = rep[(rep["method"] == method) & (rep["metric"] == "gflops") & (rep["dataset"] == "set8")]
    return float(hit["value_reported"].iloc[0]) if len(hit) else float("nan")


def efficiency_table(models: list[str], *, runtime_resolution: tuple[int, int] = (480, 272),
                     repeats: int = 3, device: str = "cpu") -> pd.DataFrame:
    """``workbench bench efficiency``: :func:`.efficiency.measure_efficiency` rows plus
    ``gflops_paper_960x540`` (2 × thop-style MACs per 960×540 frame), the paper's GFLOPs and their ratio."""
    factories = zoo_factories(models)
    rows: list[dict[str, Any]] = []
    for r in measure_efficiency(factories, resolution=runtime_resolution, device=device, repeats=repeats,
                                size_multiples=KNOWN_SIZE_MULTIPLES):
        spec = InputSpec(size_multiple=KNOWN_SIZE_MULTIPLES.get(r.method))
        paper = 2 * count_model(r.method, factories[r.method](), spec, device="meta").macs_paper / 1e9
        reported = _reported_gflops(r.method)
        rows.append({"method": r.method, "gflops_paper_960x540": paper, "gflops_reported": reported,
                     "ratio_to_reported": paper / reported, "ms_per_frame": r.ms_per_frame,
                     "runtime_resolution": format_resolution(r.runtime_resolution),
                     "achieved_gflops_per_s": r.achieved_gflops_per_s,
                     "peak_gemm_gflops_per_s": r.peak_gemm_gflops_per_s, "fraction_of_peak": r.fraction_of_peak,
                     "threads": r.threads, "device": r.device, "rule": r.rule})
    return pd.DataFrame(rows)
