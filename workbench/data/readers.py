"""Frame readers: a folder of images (:class:`FolderSequence`) and a video file (:class:`VideoFileSequence`).

Frames come out as ``numpy.float32`` ``(H, W, 3)`` RGB in ``[0, 1]``: ``uint8 / 255``, ``uint16 / 65535``.
A :class:`FolderSequence` accepts only the frames its :class:`~workbench.data.frameformat.FrameFormat`
declares (default: 8-bit RGB of any image type); any other frame is refused with one line naming the
file. Grey is repeated to 3 channels, an alpha channel dropped and a palette expanded only where the
format declares it. Files are read lazily, one frame per :meth:`FolderSequence.frame` call.

Frame order follows the FastDVDnet convention (``utils.get_imagenames``): files are sorted by the
integer formed by the digits of the file name (ties broken by name), so ``frame2.png`` precedes
``frame10.png``. PNG/JPEG/BMP are decoded with Pillow (which would reduce 16-bit RGB PNG to 8 bits: such
files are refused; store 16-bit RGB frames as TIFF), TIFF with tifffile.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from workbench.data.frameformat import RGB8, FrameFormat, frame_kind
from workbench.data.sequence import Sequence
from workbench.data.video import VideoFileSequence
from workbench.errors import DatasetError

__all__ = ["IMAGE_EXTENSIONS", "FolderSequence", "VideoFileSequence", "check_frame", "frame_number",
           "image_size", "list_frames", "read_frame", "read_image", "sha256_file", "to_float_rgb"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def frame_number(path: Path) -> int:
    """Integer formed by the digits of the file name (``-1`` if it has none)."""
    digits = "".join(ch for ch in path.stem if ch.isdigit())
    return int(digits) if digits else -1


def list_frames(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (extensions :data:`IMAGE_EXTENSIONS`), in frame order."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: (frame_number(p), p.name))


def _corrupt(path: Path, exc: BaseException) -> DatasetError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DatasetError(f"{path}: corrupt or unreadable frame ({reason}); re-extract it")


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to its native dtype: ``(H, W)`` or ``(H, W, C)`` uint8/uint16/...

    Raises :class:`DatasetError` naming the file if it cannot be decoded.
    """
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile  # lazy: only 16-bit TIFF frames need it

            return np.asarray(tifffile.imread(path))
        from PIL import Image  # lazy: keeps the data layer importable without Pillow loaded

        with Image.open(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.clip(np.asarray(img, dtype=np.int64), 0, 65535).astype(np.uint16)
            if img.mode in ("L", "RGB", "RGBA", "LA"):
                return np.asarray(img)
            alpha = "A" in img.getbands() or "transparency" in img.info
            return np.asarray(img.convert("RGBA" if alpha else "RGB"))
    except DatasetError:
        raise
    except Exception as exc:  # Pillow/tifffile raise OSError, ValueError, SyntaxError, struct.error ...
        raise _corrupt(path, exc) from exc


def image_size(path: Path) -> tuple[int, int]:
    """``(H, W)`` of an image file from its header only (no full decode)."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile  # lazy: only 16-bit TIFF frames need it

            with tifffile.TiffFile(path) as tif:
                shape = tif.pages[0].shape
            return int(shape[0]), int(shape[1])
        from PIL import Image  # lazy: keeps the data layer importable without Pillow loaded

        with Image.open(path) as img:
            w, h = img.size
        return int(h), int(w)
    except Exception as exc:
        raise _corrupt(path, exc) from exc


def to_float_rgb(array: np.ndarray, *, source: Path | str = "<array>") -> np.ndarray:
    """uint8/uint16 ``(H, W)``, ``(H, W, 1|2|3|4)`` → float32 ``(H, W, 3)`` in ``[0, 1]``."""
    if array.dtype == np.uint8:
        x = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        x = array.astype(np.float32) / 65535.0
    else:
        raise DatasetError(f"{source}: unsupported pixel type {array.dtype}; store frames as 8- or 16-bit")
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or x.shape[2] not in (1, 2, 3, 4):
        raise DatasetError(f"{source}: unsupported frame layout {array.shape}; expected (H, W[, C])")
    if x.shape[2] in (1, 2):  # gray or gray+alpha
        x = np.repeat(x[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(x[:, :, :3])


def check_frame(path: Path, frames: FrameFormat = RGB8) -> tuple[int, int]:
    """``(H, W)`` of the frame file ``path`` from its header; raises :class:`DatasetError` (one line naming
    the file and the fix) if it is unreadable or not of the declared ``frames`` format."""
    try:
        kind = frame_kind(path)
    except Exception as exc:  # Pillow/tifffile raise OSError, ValueError, SyntaxError, struct.error ...
        raise _corrupt(path, exc) from exc
    problem = frames.problem(path, kind)
    if problem:
        raise DatasetError(problem)
    return kind.hw


def read_frame(path: Path, frames: FrameFormat = RGB8) -> np.ndarray:
    """Frame file ``path`` as float32 ``(H, W, 3)`` RGB in ``[0, 1]``, after :func:`check_frame`."""
    check_frame(path, frames)
    return to_float_rgb(read_image(path), source=path)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class FolderSequence(Sequence):
    """A folder of frame images ``root/*.{png,jpg,jpeg,bmp,tif,tiff}`` read lazily.

    Frames: float32 ``(H, W, 3)`` RGB in ``[0, 1]``. The size of the first frame (from its header) is the
    sequence size; a frame of another size raises :class:`DatasetError` naming the file and both sizes.
    ``frames`` declares the accepted files (default 8-bit RGB): a file of another type raises
    :class:`DatasetError` at construction, a frame of another pixel format when it is read. An empty
    folder raises :class:`DatasetError` at construction.
    """

    def __init__(self, *, root: Path, name: str | None = None, frames: FrameFormat = RGB8) -> None:
        self.root = Path(root)
        self.name = name or self.root.name
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: sequence folder not found; check the dataset root and layout")
        self.files = list_frames(self.root)
        if not self.files:
            raise DatasetError(
                f"{self.root}: no frames ({'/'.join(IMAGE_EXTENSIONS)}); extract the sequence's frames there"
            )
        self.frame_format = frames
        for path in self.files:
            problem = frames.extension_problem(path)
            if problem:
                raise DatasetError(problem)
        self._hw: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, int, int]:
        if self._hw is None:
            self._hw = image_size(self.files[0])
        return (self._hw[0], self._hw[1], 3)

    def frame(self, index: int) -> np.ndarray:
        path = self.files[index]
        x = read_frame(path, self.frame_format)
        h, w, _ = self.shape
        if x.shape[:2] != (h, w):
            raise DatasetError(
                f"{path}: frame is {x.shape[1]}x{x.shape[0]} but {self.files[0].name} is {w}x{h} (WxH); "
                "all frames of a sequence must have one size: re-extract the sequence"
            )
        return x

    def checksum_source(self) -> list[str]:
        return [str(p) for p in self.files]

    def location(self) -> str:
        return str(self.root)
