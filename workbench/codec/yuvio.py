"""Raw planar ``yuv420p`` files (8-bit): per frame the Y plane (H×W bytes), then U, then V (H/2×W/2 each)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from workbench.codec.colour import Yuv420


def frame_bytes(height: int, width: int) -> int:
    """Bytes of one 8-bit 4:2:0 frame."""
    return height * width + 2 * (height // 2) * (width // 2)


def write_yuv420p(path: str | Path, frames: Iterable[Yuv420]) -> int:
    """Write ``uint8`` frames to ``path``; returns the number of frames written."""
    n = 0
    with open(path, "wb") as fh:
        for f in frames:
            for plane in (f.y, f.u, f.v):
                if plane.dtype != np.uint8:
                    raise TypeError("write_yuv420p expects uint8 planes")
                fh.write(np.ascontiguousarray(plane).tobytes())
            n += 1
    return n


def read_yuv420p(path: str | Path, height: int, width: int) -> list[Yuv420]:
    """Read every frame of a raw ``yuv420p`` file of the given size."""
    data = np.fromfile(path, dtype=np.uint8)
    size = frame_bytes(height, width)
    if data.size % size:
        raise ValueError(
            f"{path}: {data.size} bytes is not a whole number of {width}x{height} yuv420p frames"
        )
    hc, wc = height // 2, width // 2
    frames = []
    for start in range(0, data.size, size):
        buf = data[start : start + size]
        y = buf[: height * width].reshape(height, width)
        u = buf[height * width : height * width + hc * wc].reshape(hc, wc)
        v = buf[height * width + hc * wc :].reshape(hc, wc)
        frames.append(Yuv420(y=y.copy(), u=u.copy(), v=v.copy()))
    return frames
