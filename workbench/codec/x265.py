"""x265 (HEVC) through ffmpeg, with our own raw ``yuv420p`` input and the exact command recorded.

Protocol (user-needs N9, docs/protocols.md §6):

- input: a raw 8-bit planar ``yuv420p`` file written by :mod:`workbench.codec.yuvio` from our colour
  conversion (:mod:`workbench.codec.colour`), so ffmpeg's swscale never touches the colours;
- rate control explicit: ``qp`` mode (``-x265-params qp=QP``, constant QP; x265 still offsets I-frames by
  its default ``ipratio``) or ``crf`` mode (``crf=Q``) — never one passed as the other;
- GOP fixed: ``keyint=min-keyint=GOP`` and ``scenecut=0``; ``pools``/``frame-threads`` = ``threads``
  (1 by default, so the bitstream is bit-identical run to run); ``info=0`` drops x265's ~2 kB
  version/options SEI unless ``info_sei`` is set (it is not needed to decode and would dominate the
  size of small test clips);
- output: the raw HEVC elementary stream (``-f hevc``, no container); bits = 8 × file size;
  ``bpp = bits / (W · H · frames)``;
- decoding: ``ffmpeg -f hevc -i out.hevc -f rawvideo -pix_fmt yuv420p``, then our inverse conversion.

The command line is built with ffmpeg-python and run as an argument list (never a shell); the argument
list and its ``shlex.join`` string are returned verbatim.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ffmpeg  # ffmpeg-python: builds the argument list only

from workbench.codec.colour import Yuv420
from workbench.codec.yuvio import read_yuv420p, write_yuv420p
from workbench.errors import ToolError

_GLOBAL_ARGS = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


@dataclass(frozen=True)
class X265Settings:
    """One x265 operating point; every field is recorded with the results."""

    mode: Literal["qp", "crf"] = "qp"
    value: float = 32.0
    preset: str = "veryslow"
    tune: str = "zerolatency"  # "" for none
    keyint: int = 10
    pix_fmt: Literal["yuv420p"] = "yuv420p"
    fps: int = 30
    threads: int = 1
    info_sei: bool = False
    extra_params: tuple[str, ...] = ()

    def rate_point(self) -> str:
        return f"{self.mode}={self.value:g}"

    def x265_params(self) -> str:
        """The ``-x265-params`` string, e.g. ``qp=32:keyint=10:min-keyint=10:scenecut=0:...``."""
        value = str(int(self.value)) if self.mode == "qp" else f"{self.value:g}"
        parts = [
            f"{self.mode}={value}",
            f"keyint={self.keyint}",
            f"min-keyint={self.keyint}",
            "scenecut=0",
            f"pools={self.threads}",
            f"frame-threads={self.threads}",
            f"info={int(self.info_sei)}",
            *self.extra_params,
        ]
        return ":".join(parts)


def bits_per_pixel(num_bytes: int, width: int, height: int, frames: int) -> float:
    """``8 · num_bytes / (width · height · frames)``."""
    return 8.0 * num_bytes / (width * height * frames)


def encode_args(
    exe: str,
    settings: X265Settings,
    *,
    width: int,
    height: int,
    frames: int,
    src: str = "input.yuv",
    dst: str = "out.hevc",
) -> list[str]:
    """The encoder argument list (``src``/``dst`` relative to the folder ffmpeg runs in)."""
    out_kwargs: dict[str, object] = {
        "f": "hevc",
        "frames:v": frames,
        "preset": settings.preset,
        "vcodec": "libx265",
        "x265-params": settings.x265_params(),
    }
    if settings.tune:
        out_kwargs["tune"] = settings.tune
    stream = ffmpeg.input(src, f="rawvideo", pix_fmt=settings.pix_fmt, s=f"{width}x{height}", r=settings.fps)
    args = stream.output(dst, **out_kwargs).compile(cmd="ffmpeg")
    # global options must precede the inputs (ffmpeg ≥ 7 warns about trailing options)
    return [exe, *_GLOBAL_ARGS, *args[1:]]


def decode_args(exe: str, *, src: str = "out.hevc", dst: str = "decoded.yuv") -> list[str]:
    args = ffmpeg.input(src, f="hevc").output(dst, f="rawvideo", pix_fmt="yuv420p").compile(cmd="ffmpeg")
    return [exe, *_GLOBAL_ARGS, *args[1:]]


def _run(argv: list[str], cwd: Path) -> None:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ToolError(
            f"{argv[0]}: cannot run ffmpeg ({exc}); install one or set WORKBENCH_FFMPEG"
        ) from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise ToolError(f"ffmpeg exited {proc.returncode} ({tail}); command: {shlex.join(argv)}")


@dataclass
class X265Result:
    """One encode/decode: verbatim commands, bitstream size, bpp and decoded 8-bit frames."""

    settings: X265Settings
    argv: list[str]
    command: str
    decode_command: str
    num_bytes: int
    bits: int
    bpp: float
    decoded: list[Yuv420]


def encode_decode(
    frames: list[Yuv420],
    settings: X265Settings,
    *,
    exe: str,
    scratch_dir: Path,
    keep_bitstream: Path | None = None,
) -> X265Result:
    """Encode 8-bit 4:2:0 ``frames`` with x265, decode them back, return sizes and reconstructions.

    Intermediate files live in a temporary folder under ``scratch_dir`` (removed afterwards); the
    bitstream is moved to ``keep_bitstream`` (atomically) when given.
    """
    if not frames:
        raise ValueError("encode_decode needs at least one frame")
    height, width = frames[0].size
    scratch_dir.mkdir(parents=True, exist_ok=True)
    enc = encode_args(exe, settings, width=width, height=height, frames=len(frames))
    dec = decode_args(exe)
    with tempfile.TemporaryDirectory(prefix="x265-", dir=scratch_dir) as tmp_name:
        tmp = Path(tmp_name)
        write_yuv420p(tmp / "input.yuv", frames)
        _run(enc, tmp)
        num_bytes = (tmp / "out.hevc").stat().st_size
        _run(dec, tmp)
        decoded = read_yuv420p(tmp / "decoded.yuv", height, width)
        if len(decoded) != len(frames):
            raise ToolError(
                f"ffmpeg decoded {len(decoded)} of {len(frames)} frames; command: {shlex.join(enc)}"
            )
        if keep_bitstream is not None:
            keep_bitstream.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / "out.hevc", keep_bitstream)
    return X265Result(
        settings=settings,
        argv=enc,
        command=shlex.join(enc),
        decode_command=shlex.join(dec),
        num_bytes=num_bytes,
        bits=8 * num_bytes,
        bpp=bits_per_pixel(num_bytes, width, height, len(frames)),
        decoded=decoded,
    )
