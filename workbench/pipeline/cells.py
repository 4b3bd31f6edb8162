"""Cell kinds: the unit of work a pipeline spec expands into.

A cell kind is registered in :data:`CELL_KINDS` with

- ``schema``: a dataclass type; the cell's YAML mapping (after defaults are merged) is checked
  against it (unknown keys are errors, see :func:`workbench.config.from_mapping`);
- ``run(params, ctx) -> list[dict]``: does the work and returns long-format result rows
  (one dict per measured value; keys are column names with units, e.g. ``psnr_db``).

The runner computes a cell key from (spec id, profile, resolved params, code hash, input checksums);
a cell whose key already has finished outputs is reused, not rerun.

``ctx.work_dir`` is the cell's private folder (checkpoints, logs; kept across runs so a killed run
resumes); ``ctx.artifact_dir`` receives files that belong in the results version (figures' raw data,
JSON side files); ``ctx.input_checksums`` collects ``{name: sha256}`` of every input read, for the
manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.registry import Registry


@dataclass
class CellContext:
    spec_id: str
    profile: str
    cell_name: str
    work_dir: Path
    artifact_dir: Path
    device: str = "cpu"
    data_root: Path | None = None
    input_checksums: dict[str, str] = field(default_factory=dict)
    #: free-form provenance added by the cell (e.g. the verbatim x265 command, chunking rule)
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CellKind:
    schema: type
    run: Callable[[Any, CellContext], list[dict[str, Any]]]
    #: input checksums known before running (dataset manifests), for the cell key
    inputs: Callable[[Any, CellContext], dict[str, str]] | None = None


CELL_KINDS: Registry[CellKind] = Registry("cell kind")
