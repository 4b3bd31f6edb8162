"""Leftovers of dead writers are collected at the next publish; store files are 0644, folders 0755."""

import os
import stat
import time

from store_helpers import dead_pid, publish_one, stage

from workbench import atomic
from workbench.store import versions


def test_stale_staging_and_temp_files_of_dead_processes_are_collected(root):
    d = root / "t1" / "smoke"
    d.mkdir(parents=True)
    gone = dead_pid()
    dead = d / f".staging-{gone}-abcd1234"
    (dead / "figures").mkdir(parents=True)
    (dead / "measured.csv").write_text("half a table")
    old = d / ".staging-k2j3h4g5"  # the old unnamed kind: collected once a day old
    old.mkdir()
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (day_ago, day_ago))
    live = d / f".staging-{os.getpid()}-alive123"  # a writer still at work keeps its folder
    live.mkdir()
    tmp_dead = root / f".index.csv.{gone}.q1w2e3r4.tmp"
    tmp_dead.write_text("x")
    tmp_live = root / f".index.csv.{os.getpid()}.q1w2e3r4.tmp"
    tmp_live.write_text("x")
    tmp_deep = d / f".manifest.json.{gone}.zz9y8x7w.tmp"
    tmp_deep.write_text("x")

    publish_one(root)

    assert not dead.exists() and not old.exists() and not tmp_dead.exists() and not tmp_deep.exists()
    assert live.is_dir() and tmp_live.exists()
    assert [p.name for p in versions.list_versions("t1", "smoke", root)] == ["v0001"]


def test_staging_names_carry_the_pid(root):
    s = versions.new_staging("t1", "smoke", root)
    assert s.name.startswith(f".staging-{os.getpid()}-")


def _mode(p):
    return stat.S_IMODE(p.stat().st_mode)


def test_store_files_are_0644_and_folders_0755_under_umask_077(root, tmp_path):
    old = os.umask(0o077)
    try:
        s = stage(root, "t2", "smoke")
        (s / "figures").mkdir()
        (s / "figures" / "t2.png").write_bytes(b"png")  # written by a notebook, not by atomic
        (s / "artifacts" / "cell").mkdir(parents=True)
        atomic.write_text(s / "artifacts" / "cell" / "rows.csv", "a\n1\n")
        v = versions.publish(s, "t2", "smoke", created_utc="2026-01-01T00:00:00Z", git_commit="c" * 40, root=root)
        plain = tmp_path / "elsewhere" / "deep" / "file.txt"
        atomic.write_text(plain, "x")
    finally:
        os.umask(old)
    assert _mode(plain) == 0o644 and _mode(plain.parent) == 0o755 and _mode(plain.parent.parent) == 0o755
    assert _mode(root / "index.csv") == 0o644
    for p in [root / "t2", root / "t2" / "smoke", v, *v.rglob("*")]:
        assert _mode(p) == (0o755 if p.is_dir() else 0o644), (p, oct(_mode(p)))
