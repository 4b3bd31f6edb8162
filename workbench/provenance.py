"""Provenance recorded beside every result: code, environment, tools, device, time.

``collect()`` returns a JSON-ready dict: git commit and dirty flag, a hash of the source tree
(``workbench/`` and ``baselines/``), Python and package versions, ffmpeg and x265 versions (or why they
are unavailable), device (CPU model, threads, CUDA device when used) and the UTC time.

:func:`portable` rewrites the paths of this machine in anything recorded with results (manifests, rows,
commands) as placeholders: ``<repo>``, ``<runs>``, ``<results>``, ``<cache>``, ``~`` (home), so a version
carries no absolute path of the machine that made it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import torch

from workbench.ffmpeg import ffmpeg_version, x265_version
from workbench.paths import REPO_ROOT, cache_root, results_root, runs_root

PACKAGES = ("torch", "numpy", "scipy", "scikit-image", "pandas", "matplotlib", "papermill", "imageio-ffmpeg",
            "ffmpeg-python", "fvcore", "constriction", "scikit-learn", "PyYAML")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_info() -> dict[str, object]:
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit or "unknown", "git_dirty": bool(status) if status is not None else None}


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """sha256 over the Python sources of ``workbench/`` and ``baselines/`` (path + content)."""
    h = hashlib.sha256()
    for folder in ("workbench", "baselines"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            h.update(str(path.relative_to(REPO_ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def tool_versions() -> dict[str, str]:
    try:
        return {"ffmpeg": ffmpeg_version(), "x265": x265_version() or "unknown"}
    except Exception as exc:  # ffmpeg is optional for most tables; say why it is missing
        return {"ffmpeg": f"unavailable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                "x265": "unavailable"}


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``'s ``model name`` on Linux), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: str = "cpu") -> dict[str, object]:
    """Where a result was computed. ``cpu_model`` and ``cpu_capability`` (the vector ISA PyTorch's CPU
    kernels dispatch to, e.g. ``AVX512``) decide the last bits of CPU arithmetic: a training run repeats bit
    for bit only on the same code, thread count and processor."""
    info: dict[str, object] = {
        "device": device,
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda_version"] = torch.version.cuda
    return info


def collect(device: str = "cpu") -> dict[str, object]:
    return {
        **git_info(),
        "code_hash": code_hash(),
        "packages": package_versions(),
        "tools": tool_versions(),
        "device": device_info(device),
        "created_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _prefixes() -> list[tuple[str, str]]:
    pairs = [(runs_root(), "<runs>"), (results_root(), "<results>"), (cache_root(), "<cache>"),
             (REPO_ROOT, "<repo>"), (Path.home(), "~")]
    out = [(str(p), tag) for p, tag in pairs if str(p) not in ("", os.sep)]
    return sorted(out, key=lambda pt: len(pt[0]), reverse=True)  # the most specific prefix wins


def portable(obj: Any) -> Any:
    """``obj`` (str, list, dict, nested) with this machine's paths replaced by placeholders."""
    prefixes = _prefixes()

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            for prefix, tag in prefixes:
                if prefix in value:  # a whole path component only: /home/ann never matches /home/anna
                    value = re.sub(re.escape(prefix) + r"(?=[/\\\s'\",;:)\]]|$)", tag, value)
            return value
        if isinstance(value, Path):
            return fix(str(value))
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [fix(v) for v in value]
        return value

    return fix(obj)
