"""``results/index.csv``: a list of every version, derived from the version folders.

The version folders are the truth; the index is a convenience for people and tools (one row per
version: table, profile, version, path, created_utc, git_commit). Every row can be rebuilt from the
folder's place (``<table>/<profile>/vNNNN``) and its ``manifest.json``, and is rebuilt whenever the file
disagrees with the folders: on :func:`read_index` (so ``workbench results list``) and on every publish.
A writer killed between publishing a folder and writing the index therefore leaves nothing wrong for
longer than the next command.

Writers hold the store lock (``results/.lock``, :func:`store_lock`) while they change the folders or
the index; readers take it only to repair a disagreement, and a store they cannot write (read-only
checkout) is shown as the folders say without being repaired.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench import atomic
from workbench.locks import LockTimeout, file_lock
from workbench.paths import results_root

INDEX_FIELDS = ["table", "profile", "version", "path", "created_utc", "git_commit"]
VERSION = re.compile(r"^v(\d{4,})$")
LOCK_NAME = ".lock"
HIGH_WATER = ".last-version"  # per <table>/<profile>: the highest number ever taken
LOCK_TIMEOUT_S = 300.0


@contextlib.contextmanager
def store_lock(root: Path, *, timeout_s: float | None = LOCK_TIMEOUT_S) -> Iterator[Path]:
    """The one lock every writer of ``root`` (folders and index) holds."""
    with file_lock(root / LOCK_NAME, timeout_s=timeout_s) as path:
        yield path


def version_number(name: str) -> int | None:
    m = VERSION.match(name)
    return int(m.group(1)) if m else None


def version_dirs(root: Path) -> list[Path]:
    """Every published version folder ``<root>/<table>/<profile>/vNNNN``."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*/v*") if p.is_dir() and VERSION.match(p.name)
                  and not p.parent.name.startswith(".") and not p.parent.parent.name.startswith("."))


def read_manifest(version_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((version_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def compact_overrides(overrides: Any, prefix: str = "") -> str:
    """``{"train": {"steps": 3}}`` → ``train.steps=3``; several are joined by commas; none → ``""``."""
    if not isinstance(overrides, dict):
        return f"{prefix}={overrides}" if prefix else str(overrides)
    parts = [compact_overrides(v, f"{prefix}{k}.") if isinstance(v, dict) else f"{prefix}{k}={v}"
             for k, v in sorted(overrides.items())]
    return ",".join(p for p in parts if p)


def row_for(version_dir: Path, root: Path) -> dict[str, str]:
    """The index row of one version folder, plus what tells versions apart (kind, overrides, note)."""
    m = read_manifest(version_dir)
    prov: dict[str, Any] = m["provenance"] if isinstance(m.get("provenance"), dict) else {}
    return {"table": version_dir.parent.parent.name, "profile": version_dir.parent.name,
            "version": version_dir.name, "path": version_dir.relative_to(root).as_posix(),
            "created_utc": str(m.get("created_utc") or prov.get("created_utc") or ""),
            "git_commit": str(m.get("git_commit") or prov.get("git_commit") or ""),
            "git_dirty": "dirty" if m.get("git_dirty", prov.get("git_dirty")) else "",
            "result_kind": str(m.get("result_kind") or ""),
            "overrides": compact_overrides(m.get("overrides") or {}), "note": str(m.get("note") or "")}


def scan(root: Path) -> list[dict[str, str]]:
    """Rows for every version folder, oldest first (by creation time, then path)."""
    rows = [row_for(d, root) for d in version_dirs(root)]
    return sorted(rows, key=lambda r: (r["created_utc"], r["path"]))


def read_file(root: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The index file as it is: (header, rows); ([], []) when there is none."""
    path = root / "index.csv"
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except FileNotFoundError:
        return [], []


def _key(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return sorted(tuple(r.get(f) or "" for f in INDEX_FIELDS) for r in rows)


def agrees(root: Path, rows: list[dict[str, str]]) -> bool:
    header, file_rows = read_file(root)
    if not header and not file_rows:
        return not rows
    return header == INDEX_FIELDS and _key(file_rows) == _key(rows)


def write(root: Path, rows: list[dict[str, str]]) -> None:
    """Write the index (caller holds the store lock)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=INDEX_FIELDS, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    atomic.write_text(root / "index.csv", buf.getvalue())


def _remember_dropped(root: Path, file_rows: list[dict[str, str]], rows: list[dict[str, str]]) -> None:
    """Before a row whose folder is gone leaves the index, keep its number from being taken again."""
    present = {r["path"] for r in rows}
    for r in file_rows:
        n = version_number(r.get("version") or "")
        d = root / (r.get("table") or "") / (r.get("profile") or "")
        if n is None or r.get("path") in present or not d.is_dir():
            continue
        try:
            known = version_number((d / HIGH_WATER).read_text().strip()) or 0
        except OSError:
            known = 0
        if n > known:
            atomic.write_text(d / HIGH_WATER, f"v{n:04d}\n")


def rebuild(root: Path) -> list[dict[str, str]]:
    """Make the index agree with the folders (caller holds the store lock); return the rows."""
    rows = scan(root)
    if not agrees(root, rows):
        _remember_dropped(root, read_file(root)[1], rows)
        write(root, rows)
    return rows


def read_index(root: Path | None = None) -> list[dict[str, str]]:
    """Every version, as the folders say; the index file is repaired first if it disagrees."""
    root = root or results_root()
    rows = scan(root)
    if agrees(root, rows):
        return rows
    try:
        with store_lock(root, timeout_s=30.0):
            return rebuild(root)
    except (OSError, LockTimeout):  # a store we cannot write: show the truth without repairing it
        return scan(root)
