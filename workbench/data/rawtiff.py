"""Single-channel 16-bit TIFF Bayer frames (CRVD, SRVD): header check, read, deterministic write.

A raw frame file holds one ``(H, W)`` uint16 mosaic in DN (H, W even). :func:`check_raw_tiff` reads the
header only; :func:`read_raw_tiff` decodes it; :func:`write_raw_tiff` writes it without metadata (no
date, no description), so the bytes depend on the pixels only (the embedded raw manifests checksum them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.errors import DatasetError


def _tifffile():  # type: ignore[no-untyped-def]
    import tifffile  # lazy: only raw data needs it (a pinned dependency)

    return tifffile


def check_raw_tiff(path: Path) -> tuple[int, int]:
    """``(H, W)`` of a raw frame from its header; :class:`DatasetError` naming the file if it is not a
    single-channel 16-bit mosaic with even H and W."""
    try:
        with _tifffile().TiffFile(path) as tif:
            page = tif.pages[0]
            shape, dtype = tuple(page.shape), np.dtype(page.dtype)
    except Exception as exc:  # tifffile raises TiffFileError, OSError, ValueError ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path}: corrupt or unreadable raw frame ({reason}); re-extract it") from None
    if len(shape) != 2 or dtype != np.uint16:
        raise DatasetError(f"{path}: {dtype} frame of shape {shape}, but a raw frame is one 16-bit Bayer plane "
                           "(H, W); use the dataset's original TIFF files")
    if shape[0] % 2 or shape[1] % 2:
        raise DatasetError(f"{path}: odd frame size {shape[1]}x{shape[0]} (WxH); a Bayer mosaic has even sides")
    return int(shape[0]), int(shape[1])


def read_raw_tiff(path: Path) -> np.ndarray:
    """The mosaic ``(H, W)`` uint16 of ``path`` after :func:`check_raw_tiff`."""
    check_raw_tiff(path)
    try:
        return np.asarray(_tifffile().imread(path), dtype=np.uint16)
    except Exception as exc:
        raise DatasetError(f"{path}: corrupt raw frame ({type(exc).__name__}); re-extract it") from None


def write_raw_tiff(path: Path, mosaic: np.ndarray) -> None:
    """Write ``mosaic`` ``(H, W)`` uint16 as an uncompressed TIFF without metadata."""
    if mosaic.ndim != 2 or mosaic.dtype != np.uint16:
        raise ValueError(f"write_raw_tiff expects (H, W) uint16, got {mosaic.dtype} {mosaic.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _tifffile().imwrite(path, mosaic, metadata=None, software=False, photometric="minisblack")
