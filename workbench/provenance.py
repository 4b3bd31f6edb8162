"""Provenance recorded beside every result: code, environment, tools, device, time.

``collect()`` returns a JSON-ready dict: git commit and dirty flag, a hash of the source tree
(``workbench/`` and ``baselines/``), Python and package versions, ffmpeg and x265 versions (or why they
are unavailable), device (CPU model, threads, CUDA device when used) and the UTC time.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import importlib.metadata
import platform
import subprocess

import torch

from workbench.ffmpeg import ffmpeg_version, x265_version
from workbench.paths import REPO_ROOT

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


def device_info(device: str = "cpu") -> dict[str, object]:
    info: dict[str, object] = {
        "device": device,
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
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
