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
:func:`workbench.provenance.code_hash`), which keeps the keys of built-in cells unchanged. A plugin imported
here (entry point, ``module:factory``) is re-imported when its files change, so a notebook user who edits
the model runs and keys the new code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import sys
from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass
class _Loaded:
    target: str  #: ``module:factory``
    factory: Any
    code: str  #: hash of the user's source files when they were imported


#: ids this module imported (entry points, ``module:factory``); re-imported when their files change
_PLUGINS: dict[str, _Loaded] = {}
#: other user-registered ids: the hash of their code when first keyed in this process
_SEEN: dict[str, str] = {}


def _hash_of(factory: Any) -> str:
    files = [f for f in source_files(factory) if not _is_own(f)]
    return files_hash(files) if files else ""


def _load(target: str, where: str) -> _Loaded:
    factory = _factory(target, where)
    return _Loaded(target, factory, _hash_of(factory))


def _proxy(model_id: str) -> Any:
    """The registry entry of a plugin id: it builds with the plugin's current factory (see :func:`_refresh`)."""

    def build(**kwargs: Any) -> Any:
        return _PLUGINS[model_id].factory(**kwargs)

    build.__qualname__ = build.__name__ = f"plugin[{model_id}]"
    return build


def _refresh(model_id: str, where: str) -> None:
    """Re-import a plugin whose files changed since it was imported (a notebook user editing the model), so
    the code that runs is the code the cache keys hash."""
    loaded = _PLUGINS[model_id]
    if _hash_of(loaded.factory) == loaded.code:
        return
    top = loaded.target.partition(":")[0].partition(".")[0]
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    _PLUGINS[model_id] = _load(loaded.target, where)


def resolve(model_id: str, *, where: str = "model") -> Any:
    """The constructor of ``model_id``: registered, else an entry point, else a ``module:factory``
    target; the latter two are registered under ``model_id`` on first use."""
    if model_id in _PLUGINS:
        _refresh(model_id, where)
        return _PLUGINS[model_id].factory
    if model_id in MODELS:
        return MODELS.get(model_id)
    ep = _entry_point(model_id)
    target = ep.value if ep is not None else (model_id if ":" in model_id else None)
    if target is None:
        return MODELS.get(model_id)  # raises, listing the known ids
    label = f"{where} (entry point {ENTRY_POINT_GROUP}:{model_id})" if ep is not None else where
    _PLUGINS[model_id] = _load(target, label)
    MODELS.add(model_id, _proxy(model_id))
    return _PLUGINS[model_id].factory


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
    """Hash of the user code behind ``model_id``; ``""`` for models of this repository.

    A model the user registered directly (``MODELS.add``) cannot be re-imported here: if its files change
    after it was first keyed in this process, this raises rather than key new code with old results."""
    ctor = resolve(model_id)
    if model_id in _PLUGINS:
        return _PLUGINS[model_id].code
    code = _hash_of(ctor)
    if _SEEN.setdefault(model_id, code) != code:
        raise ConfigError(f"model {model_id!r}: its source files changed after it was registered in this process, "
                          "so the code that would run is not the code on disk; restart the process, or name it as "
                          "module:factory or an entry point (those are re-imported when their files change)")
    return code


def models_code_hash(model_ids: Iterable[str]) -> dict[str, str]:
    """``{id: hash}`` for the ids of ``model_ids`` backed by user code (built-in ids are left out)."""
    out = {m: model_code_hash(m) for m in sorted(set(model_ids))}
    return {m: h for m, h in out.items() if h}


__all__ = ["ENTRY_POINT_GROUP", "entry_point_ids", "files_hash", "load_plugin", "model_code_hash",
           "models_code_hash", "resolve", "source_files"]
