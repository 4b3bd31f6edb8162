"""Paired folder datasets: a degraded and a clean frame folder per sequence.

Layout (generic, the shape used by RainSyn, REVIDE and flattened CRVD copies)::

    <degraded_root>/<seq>/<frames>     e.g. rainy, hazy, noisy
    <clean_root>/<seq>/<frames>        ground truth, same sequence names

:class:`StackedPair` streams a pair as one 6-channel sequence (degraded in channels 0–2, clean in 3–5), so
training crops and augments both alike and evaluation reads both in one pass (``kind == "paired"``).

Sequences are matched by folder name; within a sequence, frames are matched by their order
(:func:`~workbench.data.readers.list_frames`) and, with ``match_frame_numbers=True``, must carry the same
frame numbers (digits of the file names). Counts and frame sizes must agree. Every problem is reported
as one line naming the paths and the fix (:func:`check_paired`); construction raises
:class:`DatasetError` with the first one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.data.frameformat import RGB8, FrameFormat
from workbench.data.readers import FolderSequence, frame_number, image_size, list_frames
from workbench.data.sequence import PairedSequence, Sequence
from workbench.errors import DatasetError


def check_paired(degraded_root: Path, clean_root: Path, *, match_frame_numbers: bool = True) -> list[str]:
    """One line per problem (missing roots, unmatched sequences, count/size/number mismatches)."""
    problems: list[str] = []
    for root, role in ((degraded_root, "degraded"), (clean_root, "clean")):
        if not root.is_dir():
            problems.append(f"{root}: {role} root not found; point it at the folder of <seq>/<frames>")
    if problems:
        return problems
    deg = {p.name for p in degraded_root.iterdir() if p.is_dir()}
    cln = {p.name for p in clean_root.iterdir() if p.is_dir()}
    if not deg:
        problems.append(f"{degraded_root}: no sequence folders; expected <seq>/<frames>")
    for name in sorted(deg - cln):
        problems.append(f"{clean_root / name}: missing; it is the clean pair of {degraded_root / name}")
    for name in sorted(cln - deg):
        problems.append(f"{degraded_root / name}: missing; it is the degraded pair of {clean_root / name}")
    for name in sorted(deg & cln):
        problems.extend(_check_pair(degraded_root / name, clean_root / name, match_frame_numbers))
    return problems


def _check_pair(d: Path, c: Path, match_frame_numbers: bool) -> list[str]:
    fd, fc = list_frames(d), list_frames(c)
    if not fd or not fc:
        return [f"{d if not fd else c}: no frames; extract the sequence's frames there"]
    if len(fd) != len(fc):
        return [f"{d}: {len(fd)} frames but {c} has {len(fc)}; each degraded frame needs its clean frame"]
    if match_frame_numbers:
        for a, b in zip(fd, fc):
            if frame_number(a) != frame_number(b):
                return [f"{a}: frame number differs from its clean pair {b}; rename the frames consistently"]
    try:
        sd, sc = image_size(fd[0]), image_size(fc[0])
    except DatasetError as exc:
        return [str(exc)]
    if sd != sc:
        return [f"{fd[0]}: {sd[1]}x{sd[0]} but clean {fc[0]} is {sc[1]}x{sc[0]} (WxH); "
                "pairs must match in size"]
    return []


class PairedFolderDataset:
    """Degraded/clean sequence pairs from two folder trees; yields :class:`PairedSequence`."""

    def __init__(self, *, degraded_root: Path, clean_root: Path, match_frame_numbers: bool = True,
                 max_frames: int | None = None) -> None:
        self.degraded_root, self.clean_root = Path(degraded_root), Path(clean_root)
        self.match_frame_numbers = match_frame_numbers
        self.max_frames = max_frames
        problems = check_paired(self.degraded_root, self.clean_root, match_frame_numbers=match_frame_numbers)
        if problems:
            raise DatasetError(problems[0])
        self.names = sorted(p.name for p in self.degraded_root.iterdir() if p.is_dir())

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> PairedSequence:
        name = self.names[index]
        degraded = FolderSequence(root=self.degraded_root / name, name=name).limit(self.max_frames)
        clean = FolderSequence(root=self.clean_root / name, name=name).limit(self.max_frames)
        return PairedSequence(name=name, degraded=degraded, clean=clean)

    def sequences(self) -> list[PairedSequence]:
        return [self[i] for i in range(len(self))]


class StackedPair(Sequence):
    """A degraded sequence and its clean target as one sequence of ``(H, W, 6)`` float32 frames in [0, 1]:
    channels 0–2 the degraded RGB frame, 3–5 the clean one (``kind = "paired"``).

    Both must have the same length (construction raises :class:`DatasetError` naming the folders); a frame
    pair of different sizes raises when it is read. :func:`split_pair` takes a frame apart again.
    """

    kind = "paired"

    def __init__(self, *, name: str, degraded: Sequence, clean: Sequence) -> None:
        if len(degraded) != len(clean):
            raise DatasetError(f"{degraded.location()}: {len(degraded)} frames but {clean.location()} has "
                               f"{len(clean)}; each degraded frame needs its clean frame")
        self.name, self.degraded, self.clean = name, degraded, clean

    def __len__(self) -> int:
        return len(self.clean)

    @property
    def shape(self) -> tuple[int, int, int]:
        h, w, _ = self.clean.shape
        return (h, w, 6)

    def frame(self, index: int) -> np.ndarray:
        d, c = self.degraded.frame(index), self.clean.frame(index)
        if d.shape != c.shape:
            raise DatasetError(f"{self.degraded.location()}: frame {index} is {d.shape[1]}x{d.shape[0]} but its "
                               f"clean pair in {self.clean.location()} is {c.shape[1]}x{c.shape[0]} (WxH); "
                               "pairs must match in size")
        return np.concatenate([d, c], axis=-1)

    def degraded_frame(self, index: int) -> np.ndarray:
        return self.degraded.frame(index)

    def clean_frame(self, index: int) -> np.ndarray:
        return self.clean.frame(index)

    def limit(self, max_frames: int | None) -> Sequence:
        if max_frames is None or max_frames >= len(self):
            return self
        return StackedPair(name=self.name, degraded=self.degraded.limit(max_frames),
                           clean=self.clean.limit(max_frames))

    def checksum_source(self) -> list[str]:
        return self.degraded.checksum_source() + self.clean.checksum_source()

    def location(self) -> str:
        return self.degraded.location()


def split_pair(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(..., 6)`` stacked frames → ``(degraded, clean)``, each ``(..., 3)`` (numpy or torch, channel last)."""
    return frames[..., :3], frames[..., 3:]


def folder_pair(name: str, degraded: Path, clean: Path, frames: FrameFormat = RGB8) -> StackedPair:
    """A :class:`StackedPair` of two frame folders."""
    return StackedPair(name=name, degraded=FolderSequence(root=degraded, name=name, frames=frames),
                       clean=FolderSequence(root=clean, name=name, frames=frames))
