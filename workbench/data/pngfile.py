"""A PNG writer whose bytes are a function of the pixels alone (for files whose sha256 is committed).

Deflate output is not fixed by the format: it differs between zlib implementations and versions
(Pillow bundles zlib-ng, whose match finder and block splitting are not zlib's and which picks code paths
by CPU; Python links whatever zlib the platform has). So these files use *stored* (uncompressed) deflate
blocks, whose layout RFC 1950/1951 and the PNG specification fix, with the defined adler32/crc32
checksums. The price is size (≈46 KB per 96×160 frame); any PNG reader decodes the files.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_STORED_MAX = 65535


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _zlib_stored(raw: bytes) -> bytes:
    """A zlib stream (no compression, 32 KB window header) of ``raw`` in stored blocks of ≤ 65535 bytes."""
    out = [b"\x78\x01"]
    starts = range(0, max(len(raw), 1), _STORED_MAX)
    for start in starts:
        block = raw[start:start + _STORED_MAX]
        final = 1 if start + _STORED_MAX >= len(raw) else 0
        out.append(struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF) + block)
    out.append(struct.pack(">I", zlib.adler32(raw)))
    return b"".join(out)


def png_bytes(frame: np.ndarray) -> bytes:
    """8-bit RGB ``(H, W, 3)`` or grey ``(H, W)`` uint8 → PNG bytes (filter 0 on every row, stored deflate)."""
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise ValueError(f"png_bytes expects uint8 (H, W) or (H, W, 3), got {frame.dtype} {frame.shape}")
    h, w = frame.shape[:2]
    colour_type = 2 if frame.ndim == 3 else 0
    rows = np.ascontiguousarray(frame).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", _zlib_stored(raw))
            + _chunk(b"IEND", b""))


def write_png(path: Path, frame: np.ndarray) -> None:
    """Write :func:`png_bytes` of ``frame`` to ``path``."""
    Path(path).write_bytes(png_bytes(frame))
