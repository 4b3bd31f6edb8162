"""Versioned results: ``results/<table>/<profile>/vNNNN/``.

A version is assembled in a staging folder (``results/<table>/<profile>/.staging-*``) and renamed
into place in one step, so a failed or killed run leaves no partial version. A version is never
overwritten: the next free number is taken. ``results/index.csv`` lists every version
(table, profile, version, path, created_utc, git_commit) and is rewritten atomically.

Layout of a version: ``measured.csv`` (long format: table, profile, method, dataset, setting,
metric, value, + protocol and provenance columns), ``manifest.json`` (provenance, config hashes,
seeds, input checksums), ``comparison.csv`` (measured joined to reported), ``figures/``,
``artifacts/``, ``<table>.ipynb`` (the executed notebook).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
from pathlib import Path

from workbench import atomic
from workbench.paths import results_root

INDEX_FIELDS = ["table", "profile", "version", "path", "created_utc", "git_commit"]
_VERSION = re.compile(r"^v(\d{4})$")


def table_dir(table: str, profile: str, root: Path | None = None) -> Path:
    return (root or results_root()) / table / profile


def list_versions(table: str, profile: str, root: Path | None = None) -> list[Path]:
    d = table_dir(table, profile, root)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_dir() and _VERSION.match(p.name))


def latest_version(table: str, profile: str, root: Path | None = None) -> Path | None:
    versions = list_versions(table, profile, root)
    return versions[-1] if versions else None


def new_staging(table: str, profile: str, root: Path | None = None) -> Path:
    d = table_dir(table, profile, root)
    d.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".staging-", dir=d))


def discard_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, table: str, profile: str, *, created_utc: str, git_commit: str,
            root: Path | None = None) -> Path:
    """Rename ``staging`` to the next free ``vNNNN`` and add it to the index."""
    root = root or results_root()
    d = table_dir(table, profile, root)
    while True:
        versions = list_versions(table, profile, root)
        nxt = int(_VERSION.match(versions[-1].name).group(1)) + 1 if versions else 1  # type: ignore[union-attr]
        target = d / f"v{nxt:04d}"
        try:
            os.rename(staging, target)  # fails if target exists and is non-empty
            break
        except OSError:
            if not target.exists():
                raise
    _append_index(root, {"table": table, "profile": profile, "version": target.name,
                         "path": str(target.relative_to(root)), "created_utc": created_utc,
                         "git_commit": git_commit})
    return target


def read_index(root: Path | None = None) -> list[dict[str, str]]:
    path = (root or results_root()) / "index.csv"
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _append_index(root: Path, row: dict[str, str]) -> None:
    rows = read_index(root) + [row]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=INDEX_FIELDS)
    w.writeheader()
    w.writerows(rows)
    atomic.write_text(root / "index.csv", buf.getvalue())
