"""Pipeline specs: ``pipelines/<id>.yaml``, one per paper table or figure (format: pipelines/README.md).

A cell's ``train`` may name a recipe of ``pipelines/recipes.yaml`` (``train: {recipe: smoke}``); keys given
beside the name replace the recipe's (one level of reference; recipes do not reference each other).
``--set`` overrides are merged into every cell that has the key before the recipe is resolved, so
``--set train.steps=N`` reaches every trained cell — and, since schedules are fractions of ``steps``,
every milestone and stage too. A ``train.*`` override never gives a training spec to a cell without one
(``train: null``, e.g. the noisy-input row).

``resources`` (a profile key, and optionally a cell key or a default) declares what a cluster executor asks
for per training job (:class:`Resources`, docs/scaling.md); it is not part of the cell's params (nor its
cache key): the same training on one GPU or eight is the same cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config import from_mapping, load_yaml, merge
from workbench.errors import ConfigError
from workbench.paths import pipelines_dir
from workbench.pipeline.kinds import CELL_KINDS


@dataclass
class Resources:
    """One training job's request: ``gpus`` on one node (one data-parallel rank each; 0: a one-task CPU job),
    ``time_min`` wall-clock minutes per job (a job that runs out requeues and resumes), SLURM ``partition``,
    ``account`` and ``qos`` (empty: the cluster's default), ``cpus_per_task`` and ``mem_gb`` (0: default)."""

    gpus: int = 1
    time_min: int = 24 * 60
    partition: str = ""
    account: str = ""
    qos: str = ""
    cpus_per_task: int = 8
    mem_gb: int = 0

    def validate(self) -> None:
        for key in ("gpus", "mem_gb"):
            if getattr(self, key) < 0:
                raise ConfigError(f"resources.{key}: must be ≥ 0, got {getattr(self, key)}")
        for key in ("time_min", "cpus_per_task"):
            if getattr(self, key) < 1:
                raise ConfigError(f"resources.{key}: must be at least 1, got {getattr(self, key)}")


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
    #: what a cluster executor asks for per training job; a cell's own ``resources`` keys replace these
    resources: dict[str, Any] = field(default_factory=dict)
    #: trained rows come from the committed model zoo ``results/zoo/<profile>`` (:mod:`workbench.pipeline.zoo`)
    zoo: bool = False


@dataclass
class PipelineSpec:
    id: str
    title: str
    notebook: str
    profiles: dict[str, ProfileSpec]
    description: str = ""
    path: str = ""


RECIPES_FILE = "recipes.yaml"


def recipes_path() -> Path:
    return pipelines_dir() / RECIPES_FILE


def load_recipes() -> dict[str, dict[str, Any]]:
    """Recipe name → training mapping, from ``pipelines/recipes.yaml``."""
    path = recipes_path()
    data = load_yaml(path)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"{path}: expected a mapping of recipe name -> training keys")
    for name, body in data.items():
        if "recipe" in body:
            raise ConfigError(f"{path}: recipe {name!r} references another recipe; write it out in full")
    return {str(k): v for k, v in data.items()}


def resolve_train(train: Any, recipes: dict[str, dict[str, Any]], where: str) -> Any:
    """``{recipe: NAME, **keys}`` → the recipe's mapping with ``keys`` merged over it and ``recipe: NAME``."""
    if not isinstance(train, Mapping) or "recipe" not in train:
        return train
    name = train["recipe"]
    if name not in recipes:
        raise ConfigError(f"{where}: unknown recipe {name!r}; known: {', '.join(sorted(recipes))} "
                          f"({recipes_path()})")
    rest = {k: v for k, v in train.items() if k != "recipe"}
    return {**merge(recipes[name], rest), "recipe": name}


def spec_path(spec_id: str) -> Path:
    return pipelines_dir() / f"{spec_id}.yaml"


def known_specs() -> list[str]:
    return sorted(p.stem for p in pipelines_dir().glob("*.yaml") if p.name != RECIPES_FILE)


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
    recipes = load_recipes()
    for i, raw in enumerate(prof.cells):
        cell = {**prof.defaults, **raw}  # one level of defaults: a key given by the cell replaces the default
        where = f"{spec.path}: profiles.{profile}.cells[{i}]"
        if overrides:
            applicable = {k: v for k, v in overrides.items() if _applies(k, cell)}
            used |= set(applicable)
            cell = merge(cell, applicable)
        for stage in ("pretrain", "train"):  # pretrain: the raw cells' first stage (SRVD), resolved alike
            if stage in cell:
                cell[stage] = resolve_train(cell[stage], recipes, f"{where}.{stage}")
        cell.pop("resources", None)  # read by cell_resources: a request, not a parameter of the cell
        name = cell.pop("name", None)
        kind_id = cell.pop("kind", None)
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


def cell_resources(spec: PipelineSpec, profile: str) -> dict[str, Resources]:
    """Cell name → its :class:`Resources`: the profile's ``resources``, then the defaults', then the cell's."""
    if profile not in spec.profiles:
        raise ConfigError(f"{spec.path}: no profile {profile!r}; profiles: {', '.join(spec.profiles)}")
    prof = spec.profiles[profile]
    out: dict[str, Resources] = {}
    for i, raw in enumerate(prof.cells):
        where = f"{spec.path}: profiles.{profile}.cells[{i}].resources"
        mapping = {**prof.resources, **prof.defaults.get("resources", {}), **raw.get("resources", {})}
        out[str(raw.get("name"))] = from_mapping(Resources, mapping, where=where)
    return out


def _applies(key: str, cell: dict[str, Any]) -> bool:
    """Whether a top-level ``--set`` key reaches ``cell``: it has the key (``train`` only when it trains),
    or the key is ``evaluate`` (every restoration cell has a default one)."""
    if key == "train":
        return cell.get("train") is not None
    return key in cell or (key == "evaluate" and cell.get("kind") == "restoration")
