"""The reusable inter-process lock (workbench.locks.file_lock)."""

import multiprocessing as mp
import os
import signal

import pytest

from workbench.errors import WorkbenchError
from workbench.locks import LockTimeout, file_lock


def _hold(path, ready, release):
    with file_lock(path):
        ready.set()
        release.wait(timeout=60)


def test_timeout_is_one_line_naming_the_lock_file_and_holder(tmp_path):
    path = tmp_path / "train-run" / ".lock"
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(path, ready, release))
    p.start()
    try:
        assert ready.wait(timeout=30)
        with pytest.raises(LockTimeout) as exc:
            with file_lock(path, timeout_s=0.2):
                pass
        assert isinstance(exc.value, WorkbenchError)
        msg = str(exc.value)
        assert "\n" not in msg and str(path) in msg and f"pid {p.pid}" in msg
    finally:
        release.set()
        p.join(timeout=30)
    with file_lock(path, timeout_s=5):  # free again once the holder let go
        pass


def test_a_killed_holder_releases_the_lock(tmp_path):
    path = tmp_path / ".lock"
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(path, ready, release))
    p.start()
    assert ready.wait(timeout=30)
    os.kill(p.pid, signal.SIGKILL)
    p.join(timeout=30)
    with file_lock(path, timeout_s=5) as held:
        assert held == path and path.read_text().strip() == str(os.getpid())
