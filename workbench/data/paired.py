"""Paired folder datasets: a degraded and a clean frame folder per sequence.

Layout (generic, the shape used by RainSyn, REVIDE and flattened CRVD copies)::

    <degraded_root>/<seq>/<frames>     e.g. rainy, hazy, noisy
    <clean_root>/<seq>/<frames>        ground truth, same sequence names

Sequences are matched by folder name; within a sequence, frames are matched by their order
(:func:`~workbench.data.readers.list_frames`) and, with ``match_frame_numbers=True``, must carry the same
frame numbers (digits of the file names). Counts and frame sizes must agree. Every problem is reported
as one line naming the paths and the fix (:func:`check_paired`); construction raises
:class:`DatasetError` with the first one.
"""

from __future__ import annotations

from pathlib import Path

from workbench.data.readers import FolderSequence, frame_number, image_size, list_frames
from workbench.data.sequence import PairedSequence
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
