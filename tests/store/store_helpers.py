"""Helpers shared by the store tests."""

import hashlib
import json
import os
import subprocess
from pathlib import Path


def stage(root: Path, table: str = "t1", profile: str = "smoke", **manifest) -> Path:
    """A staging folder with a small measured.csv and a manifest like the runner's."""
    from workbench import atomic
    from workbench.store import versions

    s = versions.new_staging(table, profile, root)
    atomic.write_text(s / "measured.csv", f"table,metric,value\n{table},psnr_db,30.0\n")
    m = {"table": table, "profile": profile, "result_kind": "pipeline check", "overrides": {},
         "provenance": {"git_commit": "a" * 40, "git_dirty": False, "created_utc": "2026-01-01T00:00:00Z"}}
    m.update(manifest)
    atomic.write_text(s / "manifest.json", json.dumps(m))
    return s


def publish_one(root: Path, table: str = "t1", profile: str = "smoke", commit: str = "a" * 40, **manifest) -> Path:
    from workbench.store import versions

    s = stage(root, table, profile, **manifest)
    return versions.publish(s, table, profile, created_utc="2026-01-01T00:00:00Z", git_commit=commit, root=root)


def tree_digest(folder: Path) -> dict[str, str]:
    """Every path under ``folder`` (hidden ones too) → sha256 of its bytes, or 'dir'."""
    out = {}
    for base, dirs, files in os.walk(folder):
        for d in dirs:
            out[os.path.relpath(os.path.join(base, d), folder)] = "dir"
        for f in files:
            p = os.path.join(base, f)
            out[os.path.relpath(p, folder)] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    return out


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def one_error_line(r) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    return lines[0]
