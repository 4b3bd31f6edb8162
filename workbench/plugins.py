"""User models beside the zoo: plugin loading and the hash of the user's code that keys cached cells.

A user's model reaches :data:`workbench.registry.MODELS` in one of three ways (docs/plugins.md):

- an entry point of the group ``ncfl_workbench.models`` in the user's installed package
  (``my-model = "mypkg.mymodel:build"``): the id ``my-model`` is loaded on first use;
- a ``module:factory`` id, in a spec (``model: mypkg.mymodel:build``) or on the command line: the module is
  imported and ``factory`` registered under that id;
- ``--plugin mypkg.mymodel`` (or :func:`load_plugin`): the module is imported and registers its models
  itself (``MODELS.add("my-model", MyModel)``).

:func:`model_code_hash` is the sha256 of the source files of the package (or single file) that defines a
model's factory, so a changed ``forward`` changes every cache key the model enters. Models of
``workbench/`` and ``baselines/`` hash to ``""`` (they are covered by
:func:`workbench.provenance.code_hash`), which keeps the keys of built-in cells unchanged.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from workbench.errors import ConfigError
from workbench.paths import REPO_ROOT
from workbench.registry import MODELS

ENTRY_POINT_GROUP = "ncfl_workbench.models"
_OWN_FOLDERS = (REPO_ROOT / "workbench", REPO_ROOT / "baselines")


def _import(module: str, where: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import plugin module {module!r} ({exc}); install it or add its "
                          "folder to PYTHONPATH") from None


def load_plugin(target: str) -> list[str]:
    """Import plugin ``target`` (``module`` or ``module:factory``); returns the model ids it added."""
    before = set(MODELS.names())
    if ":" in target:
        resolve(target, where="--plugin")
    else:
        _import(target, "--plugin")
    return sorted(set(MODELS.names()) - before)


def _entry_point(model_id: str) -> importlib.metadata.EntryPoint | None:
    found = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == model_id]
    return found[0] if found else None


def entry_point_ids() -> list[str]:
    """Model ids offered by installed packages under :data:`ENTRY_POINT_GROUP` (not yet loaded)."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})


def _factory(target: str, where: str) -> Any:
    module, _, name = target.partition(":")
    obj: Any = _import(module, where)
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{where}: module {module!r} has no {name!r} (model id {target!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"{where}: {target!r} is not callable; name a model class or a factory function")
    return obj


def resolve(model_id: str, *, where: str = "model") -> Any:
    """The constructor of ``model_id``: registered, else an entry point, else a ``module:factory``
    target; the latter two are registered under ``model_id`` on first use."""
    if model_id in MODELS:
        return MODELS.get(model_id)
    ep = _entry_point(model_id)
    if ep is not None:
        return MODELS.add(model_id, _factory(ep.value, f"{where} (entry point {ENTRY_POINT_GROUP}:{model_id})"))
    if ":" in model_id:
        return MODELS.add(model_id, _factory(model_id, where))
    return MODELS.get(model_id)  # raises, listing the known ids


def _is_own(path: Path) -> bool:
    return any(path.is_relative_to(folder) for folder in _OWN_FOLDERS)


def source_files(obj: Any) -> list[Path]:
    """The files whose content defines ``obj``: its top-level package's ``.py`` files, or its one module."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    file = getattr(module, "__file__", None) if module else None
    if file is None:
        try:
            file = inspect.getsourcefile(obj)
        except TypeError:
            file = None
    if file is None:
        raise ConfigError(f"model factory {obj!r} has no source file, so cached cells cannot see changes to it; "
                          "define it in a module (a .py file) and import it from there")
    path = Path(file).resolve()
    if module is not None:
        top = sys.modules.get(module.__name__.partition(".")[0])
        top_file = getattr(top, "__file__", None)
        if top_file and Path(top_file).name == "__init__.py":  # a package: any of its modules may matter
            return sorted(Path(top_file).resolve().parent.rglob("*.py"))
    return [path]


def files_hash(files: Iterable[Path]) -> str:
    """sha256 over (name, content) of ``files``."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def model_code_hash(model_id: str) -> str:
    """Hash of the user code behind ``model_id``; ``""`` for models of this repository."""
    files = [f for f in source_files(resolve(model_id)) if not _is_own(f)]
    return files_hash(files) if files else ""


def models_code_hash(model_ids: Iterable[str]) -> dict[str, str]:
    """``{id: hash}`` for the ids of ``model_ids`` backed by user code (built-in ids are left out)."""
    out = {m: model_code_hash(m) for m in sorted(set(model_ids))}
    return {m: h for m, h in out.items() if h}


__all__ = ["ENTRY_POINT_GROUP", "entry_point_ids", "files_hash", "load_plugin", "model_code_hash",
           "models_code_hash", "resolve", "source_files"]
