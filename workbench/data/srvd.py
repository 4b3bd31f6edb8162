"""SRVD (synthetic raw video, RViDeNet's pretraining set): reader and the build from MOT17 (docs/protocols.md §2.3).

Layout under ``<data root>/SRVD`` (RViDeNet ``sRGB_to_raw.py``)::

    raw_clean/MOT17-{id}_raw/{frame}_raw.tiff      GBRG mosaic, 16-bit DN in [240, 4095]

for the MOT17 **train** videos ``02, 09, 10, 11``. :func:`build_srvd` makes it from the MOT17 frames
(``<mot17>/MOT17-{id}/img1/*.jpg``, or ``<mot17>/train/MOT17-{id}[-DPM|-FRCNN|-SDP]/img1``) with
:func:`workbench.data.unprocess.srgb_to_raw_dn`; noise is synthesised on the fly during training
(:mod:`workbench.degrade.raw_noise`), so the noisy copies RViDeNet also wrote are not made.

:class:`RawFolderSequence` frames: ``(H/2, W/2, 4)`` float32, packed ``[R, G_r, B, G_b]``, normalised
``(x − black) / (white − black)``, not clipped (clean frames; kind ``"raw"``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from workbench.data.raw import normalize_raw, pack_bayer
from workbench.data.rawtiff import check_raw_tiff, read_raw_tiff, write_raw_tiff
from workbench.data.readers import list_frames, read_frame
from workbench.data.sensors import CRVD, Sensor
from workbench.data.sequence import Sequence
from workbench.data.unprocess import srgb_to_raw_dn
from workbench.errors import DatasetError

MOT17_IDS = ("02", "09", "10", "11")
_OBTAIN = ("build it from the MOT17 train frames with `workbench data build-srvd --mot17 PATH` "
           "(motchallenge.net/data/MOT17), or pass --data-root / set WORKBENCH_DATA")


def srvd_dir(root: Path) -> Path:
    root = Path(root)
    return root if root.name == "SRVD" and not (root / "SRVD").is_dir() else root / "SRVD"


class RawFolderSequence(Sequence):
    """A folder of clean raw TIFF mosaics read lazily as packed normalised frames."""

    kind = "raw"

    def __init__(self, *, root: Path, name: str | None = None, sensor: Sensor = CRVD) -> None:
        self.root, self.name, self.sensor = Path(root), name or Path(root).name, sensor
        self.files = [p for p in list_frames(self.root) if p.suffix.lower() in (".tif", ".tiff")]
        if not self.files:
            raise DatasetError(f"{self.root}: no raw .tiff frames; {_OBTAIN}")
        self._hw: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, int, int]:
        if self._hw is None:
            self._hw = check_raw_tiff(self.files[0])
        return (self._hw[0] // 2, self._hw[1] // 2, 4)

    def frame(self, index: int) -> np.ndarray:
        path = self.files[index]
        mosaic = read_raw_tiff(path)
        h, w, _ = self.shape
        if mosaic.shape != (2 * h, 2 * w):
            raise DatasetError(f"{path}: frame is {mosaic.shape[1]}x{mosaic.shape[0]} but {self.files[0].name} "
                               f"is {2 * w}x{2 * h} (WxH); rebuild the sequence")
        s = self.sensor
        return normalize_raw(pack_bayer(mosaic, s.pattern), s.black, s.white)

    def checksum_source(self) -> list[str]:
        return [str(p) for p in self.files]

    def location(self) -> str:
        return str(self.root)


def check_srvd(root: Path) -> list[str]:
    """Problems of an SRVD tree (one line each)."""
    base = srvd_dir(root) / "raw_clean"
    if not base.is_dir():
        return [f"{base}: SRVD not found; {_OBTAIN}"]
    problems = []
    for vid in MOT17_IDS:
        folder = base / f"MOT17-{vid}_raw"
        tiffs = [p for p in list_frames(folder)] if folder.is_dir() else []
        if not tiffs:
            problems.append(f"{folder}: missing or empty; {_OBTAIN}")
            continue
        try:
            check_raw_tiff(tiffs[0])
        except DatasetError as exc:
            problems.append(str(exc))
    return problems


def open_srvd(root: Path, *, max_frames: int | None = None) -> list[Sequence]:
    problems = check_srvd(root)
    if problems:
        raise DatasetError(problems[0])
    base = srvd_dir(root) / "raw_clean"
    return [RawFolderSequence(root=base / f"MOT17-{v}_raw", name=f"MOT17-{v}").limit(max_frames)
            for v in MOT17_IDS]


def _mot17_frames(mot17: Path, vid: str) -> Path:
    for cand in (mot17 / f"MOT17-{vid}" / "img1", mot17 / "train" / f"MOT17-{vid}" / "img1",
                 *(mot17 / "train" / f"MOT17-{vid}-{d}" / "img1" for d in ("FRCNN", "DPM", "SDP")),
                 *(mot17 / f"MOT17-{vid}-{d}" / "img1" for d in ("FRCNN", "DPM", "SDP"))):
        if cand.is_dir():
            return cand
    raise DatasetError(f"{mot17}: no MOT17-{vid}/img1 (nor train/MOT17-{vid}-FRCNN/img1); point --mot17 at the "
                       "unpacked MOT17 folder")


def build_srvd(mot17: Path, out_root: Path, *, max_frames: int | None = None, sensor: Sensor = CRVD,
               progress: Callable[[str], None] | None = None) -> list[Path]:
    """Unprocess MOT17 train videos 02, 09, 10, 11 into ``<out_root>/SRVD/raw_clean``; returns the folders.
    Frames already written are kept (the build is deterministic), so an interrupted build resumes."""
    base = srvd_dir(out_root) / "raw_clean"
    out = []
    for vid in MOT17_IDS:
        src = _mot17_frames(Path(mot17), vid)
        files = [p for p in list_frames(src) if p.suffix.lower() in (".jpg", ".jpeg", ".png")][:max_frames]
        if not files:
            raise DatasetError(f"{src}: no .jpg frames; re-extract MOT17-{vid}")
        dst = base / f"MOT17-{vid}_raw"
        for path in files:
            target = dst / f"{path.stem}_raw.tiff"
            if target.is_file():
                continue
            rgb = read_frame(path)
            if rgb.shape[0] % 2 or rgb.shape[1] % 2:
                rgb = rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]
            tmp = target.with_name(target.name + ".part")
            write_raw_tiff(tmp, srgb_to_raw_dn(rgb, sensor))
            tmp.replace(target)
        if progress:
            progress(f"MOT17-{vid}: {len(files)} frames -> {dst}")
        out.append(dst)
    return out
