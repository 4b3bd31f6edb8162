"""A video file read as a :class:`~workbench.data.sequence.Sequence`, decoded by the ffmpeg binary.

Frames are decoded by ``ffmpeg ... -f rawvideo -pix_fmt rgb24 pipe:1`` and streamed: a decoder process
stays open positioned after the last frame read, so sequential access decodes each frame once. Reading
backwards (beyond a small cache of recent frames, which serves sliding windows) restarts the decoder.
The size is read by decoding the first frame to ``-f null``; the number of frames, only when asked for,
by decoding the whole stream to ``-f null`` once (no ffprobe needed).
Frames: float32 ``(H, W, 3)`` RGB in ``[0, 1]`` (``uint8 / 255``); ``-fps_mode passthrough`` keeps one
output frame per decoded frame, and ``-sws_flags`` asks for the bit-exact YUV→RGB conversion.
:func:`read_video_yuv420` skips ffmpeg's scaler altogether: it returns the decoder's own 4:2:0 planes
(a conforming H.264 decoder's output is defined bit for bit), for colour conversion in code we control.
"""

from __future__ import annotations

import re
import subprocess
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from workbench.data.sequence import Sequence
from workbench.errors import DatasetError, ToolError
from workbench.ffmpeg import ffmpeg_exe

SWS_FLAGS = "bicubic+accurate_rnd+full_chroma_int+bitexact"


class VideoFileSequence(Sequence):
    """Frames of the first video stream of ``path`` (any container/codec the ffmpeg binary decodes)."""

    def __init__(self, *, path: Path, name: str | None = None, cache_frames: int = 8) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: video file not found; check the dataset root")
        self.cache_frames = cache_frames
        self._hw: tuple[int, int] | None = None
        self._n: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._next = 0  # index of the frame the open decoder will deliver next
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    # -- probing --------------------------------------------------------------------------------
    def _run_probe(self, extra: list[str]) -> tuple[str, str]:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(self.path), "-map", "0:v:0",
               "-fps_mode", "passthrough", *extra, "-f", "null", "-progress", "pipe:1", "-nostats", "-"]
        proc = subprocess.run(cmd, capture_output=True, timeout=3600, check=False)
        out, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0 or self._output_size(err) is None:
            tail = " | ".join(err.strip().splitlines()[-2:])
            raise DatasetError(f"{self.path}: ffmpeg cannot decode this video ({tail}); "
                               "re-encode or replace it")
        return out, err

    def _size(self) -> tuple[int, int]:
        """(H, W) after ffmpeg's auto-rotation, from decoding the first frame only."""
        if self._hw is None:
            size = self._output_size(self._run_probe(["-frames:v", "1"])[1])
            assert size is not None
            self._hw = size
        return self._hw

    def _count(self) -> int:
        """Number of frames, from decoding the whole stream once (cached)."""
        if self._n is None:
            counts = re.findall(r"^frame=(\d+)", self._run_probe([])[0], flags=re.M)
            if not counts:
                raise DatasetError(f"{self.path}: ffmpeg reported no frame count; re-encode or replace it")
            self._n = int(counts[-1])
        return self._n

    @staticmethod
    def _output_size(stderr: str) -> tuple[int, int] | None:
        _, _, tail = stderr.partition("Output #0")
        for line in tail.splitlines():
            if "Video:" in line:
                match = re.search(r"\b(\d{1,5})x(\d{1,5})\b", line.split("Video:", 1)[1])
                if match:
                    return int(match.group(2)), int(match.group(1))
        return None

    def __len__(self) -> int:
        return self._count()

    @property
    def shape(self) -> tuple[int, int, int]:
        h, w = self._size()
        return (h, w, 3)

    # -- decoding -------------------------------------------------------------------------------
    def _open(self) -> None:
        self.close()
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(self.path),
               "-map", "0:v:0", "-fps_mode", "passthrough", "-sws_flags", SWS_FLAGS,
               "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        try:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError as exc:
            raise ToolError(f"cannot start ffmpeg for {self.path}: {exc}") from exc
        self._next = 0

    def _read_next(self) -> np.ndarray:
        h, w = self._size()
        assert self._proc is not None
        stdout: IO[bytes] | None = self._proc.stdout
        nbytes = h * w * 3
        buf = stdout.read(nbytes) if stdout is not None else b""
        if len(buf) != nbytes:
            index, proc = self._next, self._proc
            rc = proc.wait(timeout=60) if not buf else None
            self.close()
            if rc == 0:  # clean end of stream: now the frame count is known without a counting pass
                self._n = index if self._n is None else self._n
                raise IndexError(f"frame {index} out of range for {self.path} ({self._n} frames)")
            raise DatasetError(f"{self.path}: decoding stopped at frame {index}; the file is truncated "
                               "or corrupt: re-encode or replace it")
        self._next += 1
        return np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (negative counts from the end); counting frames is deferred until needed."""
        if index < 0:
            index += len(self)
        if index < 0 or (self._n is not None and index >= self._n):
            raise IndexError(f"frame {index} out of range for {self.path} ({len(self)} frames)")
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index].astype(np.float32) / 255.0
        if self._proc is None or index < self._next:
            self._open()
        while True:
            i = self._next
            raw = self._read_next()
            self._cache[i] = raw
            if len(self._cache) > self.cache_frames:
                self._cache.popitem(last=False)
            if i == index:
                return raw.astype(np.float32) / 255.0

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Stream frames ``start .. stop-1`` (to the end if ``stop`` is None) without a counting pass."""
        i = start
        while stop is None or i < stop:
            try:
                yield self.frame(i)
            except IndexError:
                return
            i += 1

    def checksum_source(self) -> list[str]:
        return [str(self.path)]

    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        """Stop the decoder process (it restarts on the next :meth:`frame` call)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdout is not None:
                proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self) -> dict[str, Any]:  # picklable for DataLoader workers: drop the process
        state = self.__dict__.copy()
        state["_proc"], state["_next"], state["_cache"] = None, 0, OrderedDict()
        return state


def read_video_frames(path: Path, indices: list[int]) -> np.ndarray:
    """Decode only frames ``indices`` (increasing, 0-based decode order) of ``path`` → uint8 ``(N, H, W, 3)``.

    ffmpeg's ``select`` filter drops the other frames before the RGB conversion and decoding stops after
    the last one, so a short excerpt of a long or large video is cheap. Raises :class:`DatasetError` if
    the video has fewer frames than asked for.
    """
    if not indices or sorted(set(indices)) != list(indices) or indices[0] < 0:
        raise ValueError("indices must be increasing, distinct and non-negative")
    seq = VideoFileSequence(path=path)
    h, w, _ = seq.shape
    expr = "+".join(f"eq(n\\,{i})" for i in indices)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:v:0",
           "-vf", f"select={expr}", "-fps_mode", "passthrough", "-frames:v", str(len(indices)),
           "-sws_flags", SWS_FLAGS, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    proc = subprocess.run(cmd, capture_output=True, timeout=3600, check=False)
    data = proc.stdout
    if proc.returncode != 0 or len(data) != len(indices) * h * w * 3:
        got = len(data) // (h * w * 3)
        raise DatasetError(f"{path}: got {got} of the {len(indices)} frames asked for (last index "
                           f"{indices[-1]}); the video is shorter or corrupt: replace it")
    return np.frombuffer(data, dtype=np.uint8).reshape(len(indices), h, w, 3)


def _source_pix_fmt(path: Path) -> str | None:
    """Pixel format of the first video stream, from ``ffmpeg -i`` (None when ffmpeg does not say)."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True,
                          timeout=600, check=False)
    for line in proc.stderr.decode("utf-8", "replace").splitlines():
        if "Stream #0" in line and "Video:" in line:
            match = re.search(r",\s*([a-z0-9_]+)(?:\(|,)", line.split("Video:", 1)[1])
            return match.group(1) if match else None
    return None


def read_video_yuv420(path: Path, indices: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoded 8-bit 4:2:0 planes of frames ``indices`` (as :func:`read_video_frames`): uint8 ``Y (N, H, W)``,
    ``U`` and ``V (N, ceil(H/2), ceil(W/2))``, exactly as the decoder outputs them.

    The source must be ``yuv420p`` (so ffmpeg converts nothing); it decodes with one thread and
    ``+bitexact`` so no CPU-dependent code path can touch the samples. Anything else raises
    :class:`DatasetError`.
    """
    if not indices or sorted(set(indices)) != list(indices) or indices[0] < 0:
        raise ValueError("indices must be increasing, distinct and non-negative")
    pix_fmt = _source_pix_fmt(path)
    if pix_fmt != "yuv420p":
        raise DatasetError(f"{path}: video pixel format is {pix_fmt}, not yuv420p; the bit-exact YUV path "
                           "reads 8-bit 4:2:0 only: re-encode it with -pix_fmt yuv420p")
    h, w, _ = VideoFileSequence(path=path).shape
    ch, cw = (h + 1) // 2, (w + 1) // 2
    expr = "+".join(f"eq(n\\,{i})" for i in indices)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1",
           "-flags:v", "+bitexact", "-i", str(path), "-map", "0:v:0", "-vf", f"select={expr}",
           "-fps_mode", "passthrough", "-frames:v", str(len(indices)), "-f", "rawvideo", "-pix_fmt", "yuv420p",
           "pipe:1"]
    proc = subprocess.run(cmd, capture_output=True, timeout=3600, check=False)
    per_frame = h * w + 2 * ch * cw
    data = proc.stdout
    if proc.returncode != 0 or len(data) != len(indices) * per_frame:
        raise DatasetError(f"{path}: got {len(data) // per_frame} of the {len(indices)} frames asked for "
                           f"(last index {indices[-1]}); the video is shorter or corrupt: replace it")
    frames = np.frombuffer(data, dtype=np.uint8).reshape(len(indices), per_frame)
    y = frames[:, : h * w].reshape(-1, h, w)
    u = frames[:, h * w: h * w + ch * cw].reshape(-1, ch, cw)
    v = frames[:, h * w + ch * cw:].reshape(-1, ch, cw)
    return y, u, v
