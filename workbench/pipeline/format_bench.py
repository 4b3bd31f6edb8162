"""The models of a spec's profile timed with NCHW and with channels-last weights
(:mod:`workbench.evaluate.complexity.format_bench`): ``workbench bench format``."""

from __future__ import annotations

from typing import Any

import torch

from workbench.evaluate.complexity.format_bench import FormatTiming, time_formats
from workbench.pipeline.spec import expand, load_spec
from workbench.zoo import build_model


def spec_models(spec_ids: list[str], profile: str) -> list[tuple[str, dict[str, Any]]]:
    """The distinct ``(model, model_args)`` of the restoration cells of ``spec_ids`` in ``profile``."""
    seen: list[tuple[str, dict[str, Any]]] = []
    for spec_id in spec_ids:
        for _, kind, params in expand(load_spec(spec_id), profile):
            if kind != "restoration" or params.model == "noisy-input":
                continue
            item = (params.model, dict(params.model_args))
            if item not in seen:
                seen.append(item)
    return seen


def benchmark_formats(spec_ids: list[str], profile: str = "mini", **kwargs: Any) -> list[FormatTiming]:
    """:func:`time_formats` for every model of :func:`spec_models`, each built untrained with seed 0."""
    out = []
    for name, args in spec_models(spec_ids, profile):
        torch.manual_seed(0)
        model = build_model(name, args, seed=0, where=f"bench format {name}")
        out.append(time_formats(model, name=name, args=args, **kwargs))
    return out


__all__ = ["benchmark_formats", "spec_models"]
