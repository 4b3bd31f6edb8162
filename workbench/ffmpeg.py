"""Locating the ffmpeg binary and reporting its (and libx265's) version.

Order of preference for :func:`ffmpeg_exe`:

1. ``$WORKBENCH_FFMPEG`` (a path to an ffmpeg executable) when set — a missing file is an error;
2. ``prefer="auto"``: the static binary shipped by the ``imageio-ffmpeg`` wheel (pinned in
   ``requirements.txt``, built with libx265), then ``ffmpeg`` on ``PATH``;
   ``prefer="system"``: ``ffmpeg`` on ``PATH`` first, then imageio-ffmpeg's binary.

All calls use argument lists (no shell). Version look-ups are cached per executable path.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from workbench.errors import ToolError

ENV_VAR = "WORKBENCH_FFMPEG"
_HOW_TO_GET = (
    "`make reproduce` installs imageio-ffmpeg (which ships one); or install ffmpeg and set "
    f"{ENV_VAR}=/path/to/ffmpeg"
)


def _imageio_exe() -> str | None:
    try:
        import imageio_ffmpeg  # optional: the system ffmpeg serves without it
    except ImportError:
        return None
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # imageio-ffmpeg installed without its binary
        return None
    return exe if exe and Path(exe).is_file() else None


def _path_exe() -> str | None:
    return shutil.which("ffmpeg")


def ffmpeg_exe(prefer: str = "auto") -> str:
    """Path of the ffmpeg executable to use; raises :class:`ToolError` if there is none.

    ``prefer`` is ``"auto"`` (imageio-ffmpeg's binary, then ``PATH``) or ``"system"`` (``PATH`` first).
    ``$WORKBENCH_FFMPEG`` overrides both.
    """
    if prefer not in ("auto", "system"):
        raise ValueError(f"prefer must be 'auto' or 'system', not {prefer!r}")
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ToolError(f"{ENV_VAR}={env}: no executable ffmpeg there; fix the path or unset it")
        return str(path)
    finders = (_imageio_exe, _path_exe) if prefer == "auto" else (_path_exe, _imageio_exe)
    for find in finders:
        exe = find()
        if exe:
            return exe
    raise ToolError(f"ffmpeg not found (no {ENV_VAR}, no imageio-ffmpeg binary, none on PATH); {_HOW_TO_GET}")


def run_ffmpeg(args: list[str], *, exe: str | None = None, timeout: float = 600.0) -> str:
    """Run ``ffmpeg -hide_banner -nostdin <args>``; return stderr; raise :class:`ToolError` on failure."""
    cmd = [exe or ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-2:])
        raise ToolError(f"ffmpeg failed (exit {proc.returncode}): {' '.join(cmd[1:])}: {tail}")
    return err


@functools.lru_cache(maxsize=8)
def _version_of(exe: str) -> str:
    proc = subprocess.run([exe, "-version"], capture_output=True, timeout=60, check=False)
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    if proc.returncode != 0 or not lines:
        raise ToolError(f"{exe} -version failed (exit {proc.returncode}); {_HOW_TO_GET}")
    return lines[0].strip()


@functools.lru_cache(maxsize=8)
def _x265_of(exe: str) -> str | None:
    # x265 prints its version only when an encoder instance is opened: encode one tiny black frame.
    args = [exe, "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=0.04",
            "-frames:v", "1", "-c:v", "libx265", "-f", "null", "-"]
    proc = subprocess.run(args, capture_output=True, timeout=60, check=False)
    err = proc.stderr.decode("utf-8", "replace")
    match = re.search(r"HEVC encoder version\s+(\S+)", err)
    return match.group(1) if match else None


def ffmpeg_version(exe: str | None = None) -> str:
    """First line of ``ffmpeg -version`` of ``exe`` (default: :func:`ffmpeg_exe`)."""
    return _version_of(exe or ffmpeg_exe())


def x265_version(exe: str | None = None) -> str | None:
    """libx265 version reported by ``exe``'s encoder (e.g. ``"4.1+1-1d117be"``); ``None`` if not built in."""
    return _x265_of(exe or ffmpeg_exe())
