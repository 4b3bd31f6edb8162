"""Atomic file writes: write to a temporary file in the same folder, fsync, then ``os.replace``.

A killed process leaves either the old file or the new one, never a half-written one; what it may leave
is its temporary file ``.<name>.<pid>.<random>.tmp``, which :func:`collect_stale_temp_files` removes
once that pid is gone (or after a day). Files are written mode 0644 and folders made here 0755 whatever
the process umask (``mkstemp`` alone would make 0600 files), so results are readable by the group and
others.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.locks import pid_alive

FILE_MODE = 0o644
DIR_MODE = 0o755
STALE_AFTER_S = 24 * 3600
_TEMP = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]+\.tmp$")


def makedirs(folder: str | os.PathLike[str], mode: int = DIR_MODE) -> Path:
    """``mkdir -p`` that gives every folder it creates ``mode`` exactly (not ``mode & ~umask``)."""
    folder = Path(folder)
    missing = []
    p = folder
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir()
            os.chmod(d, mode)
    return folder


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, mode: int = FILE_MODE) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` atomically."""
    target = Path(target)
    makedirs(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def torch_save(target: str | os.PathLike[str], obj: Any) -> None:
    """``torch.save`` to ``target`` atomically (tensors, dicts of tensors and plain values only)."""
    import torch  # lazy: the results store writes files without needing torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(target, buf.getvalue())


def is_stale(pid: int | None, mtime: float, *, max_age_s: float = STALE_AFTER_S) -> bool:
    """A leftover is stale when the process that made it is gone, or it is older than ``max_age_s``."""
    return (pid is not None and pid != os.getpid() and not pid_alive(pid)) or time.time() - mtime > max_age_s


def collect_stale_temp_files(folder: str | os.PathLike[str], *, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove this module's temporary files in ``folder`` (not below it) left by dead processes."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        if not (e.name.startswith(".") and e.name.endswith(".tmp") and e.is_file(follow_symlinks=False)):
            continue
        m = _TEMP.match(e.name)
        try:
            if is_stale(int(m.group(1)) if m else None, e.stat(follow_symlinks=False).st_mtime, max_age_s=max_age_s):
                os.unlink(e.path)
                removed.append(Path(e.path))
        except OSError:
            continue
    return removed
