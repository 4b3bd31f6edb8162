"""What a dataset's frame files must be (:class:`FrameFormat`), and what a file is (:func:`frame_kind`).

Frames are 8-bit RGB unless a dataset declares otherwise: a file of another pixel format (16-bit, grey,
RGBA, palette, CMYK, ...) or of a file type the dataset does not use (a lossy JPEG where the benchmark is
PNG) is refused with one line naming the file and the fix, or converted only when the dataset's format
lists it in ``convert``. The kind of a file is read from its header only (PNG IHDR, TIFF tags, Pillow's
mode), so a layout check can inspect every frame cheaply. 16-bit RGB(A) PNG is always refused: Pillow
decodes it to 8 bits silently (store 16-bit RGB frames as TIFF).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_LAYOUTS = {0: "grey", 2: "rgb", 3: "palette", 4: "grey+alpha", 6: "rgba"}
_PIL_LAYOUTS = {"RGB": ("rgb", 8), "L": ("grey", 8), "P": ("palette", 8), "PA": ("palette", 8),
                "RGBA": ("rgba", 8), "LA": ("grey+alpha", 8), "I;16": ("grey", 16), "I;16B": ("grey", 16),
                "I;16L": ("grey", 16), "I": ("grey", 32), "1": ("bilevel", 1), "CMYK": ("cmyk", 8),
                "YCbCr": ("ycbcr", 8), "F": ("float", 32)}
_DESCRIBE = {"grey": "grey", "grey+alpha": "grey+alpha", "rgba": "RGBA (alpha channel)",
             "palette": "palette (indexed-colour)", "bilevel": "1-bit", "cmyk": "CMYK", "ycbcr": "YCbCr",
             "float": "floating-point"}
CONVERTIBLE = ("grey", "grey+alpha", "rgba", "palette")


@dataclass(frozen=True)
class FrameKind:
    """What one frame file holds: ``layout`` (``"rgb"``, ``"grey"``, ``"rgba"``, ``"palette"``, ...), bits
    per sample, ``(H, W)`` and the file type (``"png"``, ``"jpeg"``, ``"tiff"``, ...)."""

    layout: str
    bits: int
    hw: tuple[int, int]
    file_type: str


def _png_kind(path: Path, head: bytes) -> FrameKind:
    if len(head) < 26 or head[12:16] != b"IHDR":
        raise ValueError("PNG without an IHDR header")
    w, h, bits, colour = struct.unpack(">IIBB", head[16:26])
    return FrameKind(_PNG_LAYOUTS.get(colour, f"png-colour-{colour}"), bits, (h, w), "png")


def _tiff_kind(path: Path) -> FrameKind:
    import tifffile  # lazy: only 16-bit TIFF frames need it

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        shape, bits = page.shape, page.dtype.itemsize * 8 if page.dtype is not None else 0
        samples, photometric = int(page.samplesperpixel), int(page.photometric)
    layout = {1: "grey", 2: "grey+alpha", 3: "rgb", 4: "rgba"}.get(samples, f"{samples}-channel")
    if photometric == 3:
        layout = "palette"
    elif samples == 4 and photometric == 5:
        layout = "cmyk"
    return FrameKind(layout, bits, (int(shape[0]), int(shape[1])), "tiff")


def frame_kind(path: Path) -> FrameKind:
    """The :class:`FrameKind` of an image file, from its header; raises ``OSError``/``ValueError`` (and
    Pillow's errors) on a file that is not an image."""
    with open(path, "rb") as fh:
        head = fh.read(32)
    if head.startswith(_PNG_SIGNATURE):
        return _png_kind(path, head)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_kind(path)
    from PIL import Image  # lazy: keeps the data layer importable without Pillow loaded

    with Image.open(path) as img:
        layout, bits = _PIL_LAYOUTS.get(img.mode, (img.mode.lower(), 8))
        w, h = img.size
        return FrameKind(layout, bits, (int(h), int(w)), (img.format or "image").lower())


@dataclass(frozen=True)
class FrameFormat:
    """The frame files a dataset declares; anything else is refused by :meth:`problem`.

    ``extensions``: file types of the dataset (lower case, with the dot); ``bits``: bits per sample
    accepted; ``convert``: layouts other than RGB the dataset declares, converted on reading (grey repeated
    to three channels, alpha dropped, palette expanded).
    """

    dataset: str = "this dataset"
    extensions: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
    bits: tuple[int, ...] = (8,)
    convert: tuple[str, ...] = ()

    def extension_problem(self, path: Path) -> str | None:
        """One line if ``path``'s file type is not one of the dataset's, else ``None``."""
        ext = path.suffix.lower()
        if ext in self.extensions:
            return None
        types = "/".join(e.lstrip(".").upper() for e in self.extensions)
        lossy = " (lossy: results would not be comparable)" if ext in (".jpg", ".jpeg") else ""
        return (f"{path}: a {ext.lstrip('.').upper()} frame{lossy}, but {self.dataset} frames are {types}; "
                f"use the dataset's original {types} frames, not a re-encoded copy")

    def problem(self, path: Path, kind: FrameKind) -> str | None:
        """One line naming ``path`` and the fix if a frame of ``kind`` is not accepted, else ``None``."""
        ext_problem = self.extension_problem(path)
        if ext_problem:
            return ext_problem
        if kind.file_type == "png" and kind.bits == 16 and kind.layout in ("rgb", "rgba"):
            return (f"{path}: 16-bit {kind.layout.upper()} PNG, which Pillow would cut to 8 bits silently; "
                    "store 16-bit RGB frames as TIFF, or use the dataset's original 8-bit frames")
        if kind.layout != "rgb" and kind.layout not in self.convert:
            what = _DESCRIBE.get(kind.layout, kind.layout)
            return (f"{path}: {what} frame, but {self.dataset} frames are RGB; save it as RGB (or use the "
                    "dataset's original frame)")
        bits = max(kind.bits, 8) if kind.layout in ("grey", "palette") else kind.bits  # Pillow expands 1-4 bits
        if bits not in self.bits:
            depths = "/".join(str(b) for b in self.bits)
            return (f"{path}: {kind.bits}-bit frame, but {self.dataset} frames are {depths}-bit; use the "
                    f"dataset's original {depths}-bit frames (it would otherwise be rescaled silently)")
        return None


RGB8 = FrameFormat()
ANY_FRAMES = FrameFormat("this sequence", bits=(8, 16), convert=CONVERTIBLE)
