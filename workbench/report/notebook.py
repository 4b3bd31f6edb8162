"""Execute a notebook with papermill, rejecting unknown parameters (papermill itself only warns).

The executed notebook is written as ``<version_dir>/<notebook id>.ipynb``; the kernel runs with the
version folder as its working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, WorkbenchError
from workbench.paths import notebooks_dir


def notebook_path(notebook_id: str) -> Path:
    path = notebooks_dir() / f"{notebook_id}.ipynb"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in notebooks_dir().glob("*.ipynb")))
        raise ConfigError(f"{path}: notebook not found; known notebooks: {known}")
    return path


def declared_parameters(notebook_id: str) -> dict[str, Any]:
    import papermill

    return dict(papermill.inspect_notebook(str(notebook_path(notebook_id))))


def check_parameters(notebook_id: str, params: dict[str, Any]) -> None:
    declared = declared_parameters(notebook_id)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ConfigError(
            f"{notebook_path(notebook_id)}: unknown notebook parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; declared: {', '.join(sorted(declared)) or '(none)'}"
        )


def run_notebook(notebook_id: str, version_dir: Path, params: dict[str, Any]) -> Path:
    import papermill

    check_parameters(notebook_id, params)
    out = version_dir / f"{notebook_id}.ipynb"
    try:
        papermill.execute_notebook(str(notebook_path(notebook_id)), str(out), parameters=params,
                                   kernel_name="python3", cwd=str(version_dir), progress_bar=False,
                                   log_output=False)
    except papermill.PapermillExecutionError as exc:
        raise WorkbenchError(f"{notebook_path(notebook_id)}: notebook failed in cell {exc.exec_count}: "
                          f"{exc.ename}: {exc.evalue}") from None
    return out
