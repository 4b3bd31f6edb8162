"""Publishing is one step under the store lock; the index follows the version folders (GUIDE 16)."""

import csv
import errno
import multiprocessing as mp
import os
import shutil
import time

from store_helpers import publish_one

from workbench import atomic
from workbench.store import versions

N = 4
_write_bytes = atomic.write_bytes


def _slow_index_writes(delay_s: float) -> None:
    """Test hook, in the child only: every write of index.csv waits ``delay_s`` first."""
    def write_bytes(target, data):
        if os.path.basename(str(target)) == "index.csv":
            time.sleep(delay_s)
        _write_bytes(target, data)
    atomic.write_bytes = write_bytes


def _die_at_index_write() -> None:
    """Test hook, in the child only: the process dies (as if killed) when it comes to write index.csv."""
    def write_bytes(target, data):
        if os.path.basename(str(target)) == "index.csv":
            os._exit(9)
        _write_bytes(target, data)
    atomic.write_bytes = write_bytes


def _publish_child(root, barrier, i):
    _slow_index_writes(0.4)
    barrier.wait(timeout=60)
    publish_one(root, commit=f"{i:040d}")


def _killed_child(root):
    _die_at_index_write()
    publish_one(root, commit="b" * 40)


def _raw_index(root):
    with (root / "index.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_concurrent_publishes_keep_every_row(root):
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(N)
    procs = [ctx.Process(target=_publish_child, args=(root, barrier, i)) for i in range(N)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * N
    rows = _raw_index(root)  # the file itself, not a repaired view
    assert len(rows) == N
    assert sorted(r["version"] for r in rows) == [f"v{i:04d}" for i in range(1, N + 1)]
    assert sorted(r["git_commit"] for r in rows) == [f"{i:040d}" for i in range(N)]
    assert [p.name for p in versions.list_versions("t1", "smoke", root)] == [f"v{i:04d}" for i in range(1, N + 1)]


def test_kill_between_rename_and_index_leaves_a_consistent_store(root, cli):
    publish_one(root)
    p = mp.get_context("fork").Process(target=_killed_child, args=(root,))
    p.start()
    p.join(timeout=120)
    assert p.exitcode == 9
    assert (root / "t1" / "smoke" / "v0002" / "measured.csv").is_file()  # renamed into place ...
    assert [r["version"] for r in _raw_index(root)] == ["v0001"]  # ... but not indexed when it died

    listing = cli("results", "list")  # the next command sees it and repairs the index
    assert listing.returncode == 0 and "v0002" in listing.stdout
    assert sorted(r["version"] for r in versions.read_index(root)) == ["v0001", "v0002"]
    assert sorted(r["version"] for r in _raw_index(root)) == ["v0001", "v0002"]
    assert publish_one(root).name == "v0003"  # the dead writer's lock is gone with it


def test_index_is_rebuilt_from_the_folders(root):
    for _ in range(2):
        publish_one(root, profile="full", result_kind="reproduction")
    (root / "index.csv").unlink()
    rows = versions.read_index(root)
    assert [(r["table"], r["profile"], r["version"], r["path"]) for r in rows] == [
        ("t1", "full", "v0001", "t1/full/v0001"), ("t1", "full", "v0002", "t1/full/v0002")]
    assert len(_raw_index(root)) == 2
    with (root / "index.csv").open("a") as fh:
        fh.write("t9,smoke,v0007,t9/smoke/v0007,2026-01-01T00:00:00Z,x\n")  # a row with no folder
    assert [r["version"] for r in versions.read_index(root)] == ["v0001", "v0002"]
    assert len(_raw_index(root)) == 2


def test_version_numbers_are_never_reused(root, cli):
    publish_one(root)
    publish_one(root)
    shutil.rmtree(root / "t1" / "smoke" / "v0002")
    assert cli("results", "list").returncode == 0  # the index forgets v0002 ...
    assert publish_one(root).name == "v0003"  # ... the number stays taken
    assert [r["version"] for r in versions.read_index(root)] == ["v0001", "v0003"]


def test_a_full_disk_at_the_index_write_still_leaves_a_consistent_store(root, monkeypatch, capsys):
    publish_one(root)

    def full(target, data):
        if os.path.basename(str(target)) == "index.csv":
            raise OSError(errno.ENOSPC, "No space left on device")
        _write_bytes(target, data)

    monkeypatch.setattr(atomic, "write_bytes", full)
    v2 = publish_one(root)
    assert v2.name == "v0002" and "index.csv not updated" in capsys.readouterr().err
    monkeypatch.setattr(atomic, "write_bytes", _write_bytes)  # space again
    assert [r["version"] for r in versions.read_index(root)] == ["v0001", "v0002"]
    assert len(_raw_index(root)) == 2
