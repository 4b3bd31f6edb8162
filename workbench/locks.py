"""Inter-process locks on a lock file (``fcntl.flock``), and whether a process id is alive.

``with file_lock(folder / ".lock", timeout_s=0):`` excludes every other process (and every other
``file_lock`` in this one) that locks the same file. The lock belongs to the open file, so the kernel
releases it when its holder exits or is killed: a lock file left on disk never blocks anyone. The
holder writes its pid into the file, so a timeout can say who holds it.

Locks are not re-entrant: taking the same lock twice in one process waits for itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import WorkbenchError


class LockTimeout(WorkbenchError):
    """Another process held a lock for longer than the caller was willing to wait."""


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists on this machine (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (held by pid {text})" if text.isdigit() else ""


def _acquire(fd: int, path: Path, timeout_s: float | None, poll_s: float) -> None:
    if timeout_s is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(f"{path}: still locked by another process after {timeout_s:g} s{_holder(fd)}; "
                                  "wait for it to finish (or stop it) and rerun") from None
            time.sleep(poll_s)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, timeout_s: float | None = None,
              poll_s: float = 0.05) -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` (created if missing, mode 0644) for the ``with`` block.

    ``timeout_s=None`` waits as long as it takes; ``0`` tries once. On timeout a :class:`LockTimeout`
    (a one-line :class:`~workbench.errors.WorkbenchError` naming the lock file) is raised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if created:  # the umask may have narrowed 0644
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o644)
        _acquire(fd, path, timeout_s, poll_s)
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
