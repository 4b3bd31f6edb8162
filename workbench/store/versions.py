"""Versioned results: ``results/<table>/<profile>/vNNNN/``, immutable once published.

A version is assembled in a staging folder ``results/<table>/<profile>/.staging-<pid>-<random>`` and
published by :func:`publish`, which under the store lock (``results/.lock``) takes the next number,
renames the folder into place and rewrites ``results/index.csv`` from the version folders
(:mod:`workbench.store.index`). The rename is the commit point: a writer killed after it leaves a
published version that the next command indexes; one killed before it leaves a staging folder that the
next publish collects (its pid is gone, or it is a day old), as it does the temporary files of dead
writers. Numbers are never reused, even for a version folder deleted by hand: ``.last-version`` in the
``<table>/<profile>`` folder remembers the highest one taken. Nothing writes into a published version;
a notebook re-run makes a new one (:func:`stage_copy`).

Layout of a version: ``measured.csv`` (long format: table, profile, method, dataset, setting,
metric, value, + protocol and provenance columns), ``manifest.json`` (provenance, config hashes,
seeds, input checksums; ``publish`` adds ``created_utc``, ``git_commit`` and any ``note``),
``comparison.csv`` (measured joined to reported), ``figures/``, ``artifacts/``, ``<table>.ipynb``
(the executed notebook). Files are mode 0644 and folders 0755 whatever the writer's umask.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workbench import atomic
from workbench.errors import ConfigError
from workbench.paths import results_root
from workbench.store import index
from workbench.store.index import HIGH_WATER, read_index, version_number

__all__ = ["table_dir", "list_versions", "latest_version", "new_staging", "discard_staging", "publish",
           "collect_stale", "VersionRef", "published_version", "stage_copy", "read_index"]

_STAGING = re.compile(r"^\.staging-(?:(\d+)-)?")


def table_dir(table: str, profile: str, root: Path | None = None) -> Path:
    return (root or results_root()) / table / profile


def list_versions(table: str, profile: str, root: Path | None = None) -> list[Path]:
    d = table_dir(table, profile, root)
    if not d.is_dir():
        return []
    return sorted((p for p in d.iterdir() if p.is_dir() and version_number(p.name) is not None),
                  key=lambda p: version_number(p.name) or 0)


def latest_version(table: str, profile: str, root: Path | None = None) -> Path | None:
    versions = list_versions(table, profile, root)
    return versions[-1] if versions else None


def new_staging(table: str, profile: str, root: Path | None = None) -> Path:
    """An empty folder to assemble a version in; its name carries this process's pid."""
    d = atomic.makedirs(table_dir(table, profile, root))
    return Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=d))


def discard_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def collect_stale(root: Path) -> list[Path]:
    """Remove staging folders and temporary files whose writer is dead (or that are a day old)."""
    if not root.is_dir():
        return []
    removed = atomic.collect_stale_temp_files(root)
    for table in (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        removed += atomic.collect_stale_temp_files(table)
        for d in (p for p in table.iterdir() if p.is_dir() and not p.name.startswith(".")):
            removed += atomic.collect_stale_temp_files(d)
            for s in d.iterdir():
                m = _STAGING.match(s.name)
                try:
                    stale = m is not None and s.is_dir() and atomic.is_stale(
                        int(m.group(1)) if m.group(1) else None, s.stat().st_mtime)
                except OSError:
                    continue
                if stale:
                    shutil.rmtree(s, ignore_errors=True)
                    removed.append(s)
    return removed


def _fix_modes(folder: Path) -> None:
    """0755 folders, 0644 files (0755 if owner-executable): what a reader of the store expects."""
    os.chmod(folder, atomic.DIR_MODE)
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(base, name)
            if os.path.islink(p):
                continue
            st = os.stat(p)
            executable = os.path.isdir(p) or st.st_mode & 0o100
            os.chmod(p, atomic.DIR_MODE if executable else atomic.FILE_MODE)


def _stamp_manifest(staging: Path, fields: dict[str, object]) -> None:
    path = staging / "manifest.json"
    manifest = index.read_manifest(staging) if path.exists() else {}
    manifest.update({k: v for k, v in fields.items() if v is not None and v != ""})
    atomic.write_text(path, json.dumps(manifest, indent=2, default=str))


def _next_number(root: Path, table: str, profile: str) -> int:
    d = table_dir(table, profile, root)
    taken = [version_number(p.name) or 0 for p in list_versions(table, profile, root)]
    try:
        taken.append(version_number((d / HIGH_WATER).read_text().strip()) or 0)
    except OSError:
        pass
    taken += [version_number(r.get("version", "")) or 0 for r in index.read_file(root)[1]
              if r.get("table") == table and r.get("profile") == profile]
    return max(taken, default=0) + 1


def publish(staging: Path, table: str, profile: str, *, created_utc: str, git_commit: str,
            root: Path | None = None, git_dirty: bool | None = None, note: str = "") -> Path:
    """Rename ``staging`` to the next free ``vNNNN`` and index it, in one step under the store lock.

    ``created_utc``, ``git_commit`` (and ``git_dirty``, ``note`` when given) are written into the
    staging manifest first, so the index row can always be rebuilt from the folder.
    """
    root = root or results_root()
    _stamp_manifest(staging, {"created_utc": created_utc, "git_commit": git_commit, "git_dirty": git_dirty,
                              "note": note})
    _fix_modes(staging)
    with index.store_lock(root):
        collect_stale(root)
        nxt = _next_number(root, table, profile)
        while (table_dir(table, profile, root) / f"v{nxt:04d}").exists():
            nxt += 1
        target = table_dir(table, profile, root) / f"v{nxt:04d}"
        os.rename(staging, target)
        try:
            atomic.write_text(target.parent / HIGH_WATER, target.name + "\n")
            index.rebuild(root)
        except OSError as exc:  # the version is published; the next command rebuilds the index
            print(f"warning: {root / 'index.csv'} not updated ({exc}); the next command rebuilds it",
                  file=sys.stderr)
    return target


@dataclass(frozen=True)
class VersionRef:
    root: Path
    table: str
    profile: str
    version: str

    @property
    def path(self) -> Path:
        return self.root / self.table / self.profile / self.version


def published_version(version_dir: Path) -> VersionRef:
    """The store, table, profile and version of a published version folder; a ConfigError otherwise."""
    d = Path(version_dir).resolve()
    if version_number(d.name) is None or len(d.parents) < 3 or not (d / "manifest.json").is_file():
        raise ConfigError(f"{version_dir}: not a published results version (<table>/<profile>/vNNNN with a "
                          "manifest.json)")
    return VersionRef(d.parents[2], d.parent.parent.name, d.parent.name, d.name)


def stage_copy(ref: VersionRef) -> Path:
    """A new staging folder holding ``ref``'s data files: all but its executed notebooks and figures."""
    staging = new_staging(ref.table, ref.profile, ref.root)
    try:
        for p in ref.path.iterdir():
            if p.name == "figures" or (p.is_file() and p.suffix == ".ipynb"):
                continue
            if p.is_dir():
                shutil.copytree(p, staging / p.name)
            else:
                shutil.copy2(p, staging / p.name)
    except BaseException:
        discard_staging(staging)
        raise
    return staging
