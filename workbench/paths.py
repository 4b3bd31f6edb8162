"""Where things live. Nothing here resolves from the current working directory.

- repository root: the folder holding ``pyproject.toml`` above this package;
- data root: ``--data-root`` flag, else ``$WORKBENCH_DATA``, else ``<repo>/data``;
- results root: ``$WORKBENCH_RESULTS``, else ``<repo>/results``;
- cache root (embedded mini datasets, built on first use): ``$WORKBENCH_CACHE``, else ``<repo>/.cache``;
- runs root (training runs, checkpoints): ``$WORKBENCH_RUNS``, else ``<repo>/runs``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def data_root(override: str | os.PathLike[str] | None = None) -> Path:
    """Root folder of the on-disk datasets (DAVIS, Set8, CRVD, ...)."""
    if override is not None:
        return Path(override).expanduser().resolve()
    return _env_path("WORKBENCH_DATA", REPO_ROOT / "data")


def results_root() -> Path:
    """Root of the versioned results store (``results/``)."""
    return _env_path("WORKBENCH_RESULTS", REPO_ROOT / "results")


def cache_root() -> Path:
    """Cache for derived data (embedded mini datasets, pretrained-here weights)."""
    return _env_path("WORKBENCH_CACHE", REPO_ROOT / ".cache")


def runs_root() -> Path:
    """Training runs: resolved config, loss log, checkpoints."""
    return _env_path("WORKBENCH_RUNS", REPO_ROOT / "runs")


def pipelines_dir() -> Path:
    return REPO_ROOT / "pipelines"


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"
