"""Execute a notebook with papermill, rejecting unknown parameters (papermill itself only warns).

The executed notebook is written as ``<version_dir>/<notebook id>.ipynb``; the kernel runs with the
version folder as its working directory. :func:`run_notebook` runs in a staging folder, before it is
published (the pipeline runner). A published version is never written into: :func:`rerender` copies its
data files into a new staging folder, runs the notebook there and publishes the result as the next
version, with the manifest note ``re-rendered from vNNNN``. Every check (notebook id, parameters,
``table_id`` against the version's table) runs before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench import provenance
from workbench.errors import ConfigError, WorkbenchError
from workbench.evaluate.restoration import progress_wanted
from workbench.paths import notebooks_dir
from workbench.store import versions


def _ipc_kernel_manager() -> type:
    """A kernel manager whose kernel talks over local IPC sockets instead of TCP.

    Over TCP without CurveZMQ keys, ipykernel (``kernelapp.py``, ``init_sockets``) prints at every notebook
    "[IPKernelApp] WARNING | Kernel is running over TCP without encryption…"; the kernel here is always
    local, so IPC is the fix the warning itself names (and nothing else is silenced).
    """
    from jupyter_client.manager import KernelManager  # lazy: slow to import; only notebook runs need it

    class IPCKernelManager(KernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)

    return IPCKernelManager


def notebook_path(notebook_id: str) -> Path:
    path = notebooks_dir() / f"{notebook_id}.ipynb"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in notebooks_dir().glob("*.ipynb")))
        raise ConfigError(f"{path}: notebook not found; known notebooks: {known}")
    return path


def declared_parameters(notebook_id: str) -> dict[str, Any]:
    import papermill  # lazy: slow to import; only notebook runs need it

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
    import papermill  # lazy: slow to import; only notebook runs need it

    check_parameters(notebook_id, params)
    out = version_dir / f"{notebook_id}.ipynb"
    try:
        papermill.execute_notebook(str(notebook_path(notebook_id)), str(out), parameters=params,
                                   kernel_name="python3", cwd=str(version_dir), progress_bar=progress_wanted(),
                                   log_output=False, kernel_manager_class=_ipc_kernel_manager())
    except papermill.PapermillExecutionError as exc:
        raise WorkbenchError(f"{notebook_path(notebook_id)}: notebook failed in cell {exc.exec_count}: "
                          f"{exc.ename}: {exc.evalue}") from None
    return out


def _rerender_params(notebook_id: str, ref: versions.VersionRef, params: dict[str, Any]) -> dict[str, Any]:
    params = dict(params)
    if params.setdefault("version_dir", ".") != ".":
        raise ConfigError(f"notebook parameter version_dir={params['version_dir']!r}: the version is chosen by "
                          "--version-dir; drop -p version_dir")
    declared = declared_parameters(notebook_id)
    if "table_id" in declared:
        table_id = params.setdefault("table_id", ref.table)
        if table_id != ref.table:
            raise ConfigError(f"notebook parameter table_id={table_id!r} does not match {ref.path} (table "
                              f"{ref.table!r}); drop it or use a version of {table_id!r}")
    return params


def rerender(notebook_id: str, version_dir: Path, params: dict[str, Any]) -> Path:
    """Run ``notebook_id`` on a copy of a published version's data; publish it as a new version."""
    check_parameters(notebook_id, params)
    ref = versions.published_version(version_dir)
    params = _rerender_params(notebook_id, ref, params)
    prov = provenance.collect("cpu")
    staging = versions.stage_copy(ref)
    try:
        run_notebook(notebook_id, staging, params)
        return versions.publish(staging, ref.table, ref.profile, created_utc=str(prov["created_utc"]),
                                git_commit=str(prov["git_commit"]), root=ref.root,
                                git_dirty=bool(prov["git_dirty"]),
                                note=f"re-rendered from {ref.version} with notebook {notebook_id}")
    except BaseException:
        versions.discard_staging(staging)
        raise
