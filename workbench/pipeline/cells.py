"""Cell kinds: the unit of work a pipeline spec expands into.

A cell kind is registered in :data:`CELL_KINDS` with

- ``schema``: a dataclass type; the cell's YAML mapping (after defaults are merged) is checked
  against it (unknown keys are errors, see :func:`workbench.config.from_mapping`);
- ``run(params, ctx: RunContext) -> list[dict]``: does the work and returns long-format result rows
  (one dict per measured value; keys are column names with units, e.g. ``psnr_db``).

The runner computes a cell key from (spec id, profile, resolved params, code hash, input checksums);
a cell whose key already has finished outputs is reused, not rerun.

``ctx`` is a :class:`workbench.context.RunContext` (work folder, artifact folder, input checksums,
notes). The kinds are registered in :mod:`workbench.pipeline.kinds`, one module per kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.context import RunContext
from workbench.registry import Registry


@dataclass(frozen=True)
class CellKind:
    schema: type
    run: Callable[[Any, RunContext], list[dict[str, Any]]]
    #: input checksums known before running (dataset manifests), for the cell key
    inputs: Callable[[Any, RunContext], dict[str, str]] | None = None


CELL_KINDS: Registry[CellKind] = Registry("cell kind")
