"""Pipeline specs: ``pipelines/<id>.yaml``, one per paper table or figure (see pipelines/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config import from_mapping, load_yaml, merge
from workbench.errors import ConfigError
from workbench.paths import pipelines_dir
from workbench.pipeline.kinds import CELL_KINDS


@dataclass
class ProfileSpec:
    cells: list[dict[str, Any]]
    defaults: dict[str, Any] = field(default_factory=dict)
    #: measured dataset → the paper dataset it stands in for in the comparison (e.g. embedded-test → set8)
    dataset_map: dict[str, str] = field(default_factory=dict)
    #: paper tables whose reported numbers are joined (default: the spec id)
    reported_tables: list[str] = field(default_factory=list)
    #: measured metric → the reported metric it is compared with (e.g. gflops_paper → gflops)
    metric_map: dict[str, str] = field(default_factory=dict)
    #: "pipeline check" (smoke) or "reproduction" (full protocol)
    kind: str = "pipeline check"
    description: str = ""


@dataclass
class PipelineSpec:
    id: str
    title: str
    notebook: str
    profiles: dict[str, ProfileSpec]
    description: str = ""
    path: str = ""


def spec_path(spec_id: str) -> Path:
    return pipelines_dir() / f"{spec_id}.yaml"


def known_specs() -> list[str]:
    return sorted(p.stem for p in pipelines_dir().glob("*.yaml"))


def load_spec(spec_id_or_path: str) -> PipelineSpec:
    path = Path(spec_id_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = spec_path(spec_id_or_path)
        if not path.is_file():
            raise ConfigError(f"unknown pipeline {spec_id_or_path!r}; known: {', '.join(known_specs())}")
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    # top-level keys starting with "x-" hold YAML anchors shared by cells (e.g. a training schedule)
    data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
    spec = from_mapping(PipelineSpec, {**data, "path": str(path)}, where=str(path))
    if spec.id != path.stem:
        raise ConfigError(f"{path}: id {spec.id!r} must equal the file name {path.stem!r}")
    return spec


def expand(spec: PipelineSpec, profile: str, overrides: dict[str, Any] | None = None) -> list[tuple[str, str, Any]]:
    """``[(cell name, kind id, typed params)]`` for ``profile``; defaults merged under each cell."""
    if profile not in spec.profiles:
        raise ConfigError(f"{spec.path}: no profile {profile!r}; profiles: {', '.join(spec.profiles)}")
    prof = spec.profiles[profile]
    cells: list[tuple[str, str, Any]] = []
    seen: set[str] = set()
    used: set[str] = set()
    for i, raw in enumerate(prof.cells):
        cell = {**prof.defaults, **raw}  # one level of defaults: a key given by the cell replaces the default
        if overrides:
            applicable = {k: v for k, v in overrides.items() if k in cell or k in ("evaluate", "train")}
            used |= set(applicable)
            cell = merge(cell, applicable)
        name = cell.pop("name", None)
        kind_id = cell.pop("kind", None)
        where = f"{spec.path}: profiles.{profile}.cells[{i}]"
        if not name or not kind_id:
            raise ConfigError(f"{where}: every cell needs 'name' and 'kind'")
        if name in seen:
            raise ConfigError(f"{where}: duplicate cell name {name!r}")
        seen.add(name)
        kind = CELL_KINDS.get(kind_id)
        cells.append((name, kind_id, from_mapping(kind.schema, cell, where=f"{where} ({name})")))
    unused = sorted(set(overrides or {}) - used)
    if unused:
        raise ConfigError(f"--set {', '.join(unused)}: no cell of {spec.id}/{profile} has this key")
    return cells
