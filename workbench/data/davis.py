"""DAVIS-2017 trainval 480p: the training set of the AWGN denoising protocol (docs/protocols.md §1.1, §1.6).

90 sequences, 6208 frames, all 854×480 (W×H), frames ``%05d.jpg`` from ``00000``: 8-bit RGB JPEG is the
dataset's own format (declared in :data:`FRAMES`); a frame of another type or pixel format is refused.
Accepted locations under the data root:

- ``<root>/DAVIS/JPEGImages/480p/<seq>/%05d.jpg`` (the unpacked ``DAVIS-2017-trainval-480p.zip``);
- ``<root>/DAVIS-2017-trainval-480p/DAVIS/JPEGImages/480p/<seq>/``.
"""

from __future__ import annotations

from pathlib import Path

from workbench.data.frameformat import FrameFormat
from workbench.data.layout import check_sequence_folder, stray_images
from workbench.data.readers import FolderSequence, list_frames
from workbench.data.sequence import Sequence
from workbench.errors import DatasetError

N_SEQUENCES = 90
N_FRAMES = 6208
SIZE_HW = (480, 854)
FRAMES = FrameFormat("DAVIS 480p", extensions=(".jpg", ".jpeg"))
CANDIDATES = (Path("DAVIS/JPEGImages/480p"), Path("DAVIS-2017-trainval-480p/DAVIS/JPEGImages/480p"))

_OBTAIN = ("download DAVIS-2017-trainval-480p.zip (davischallenge.org, 2017 semi-supervised) and unpack "
           "it so that <root>/DAVIS/JPEGImages/480p/<seq>/00000.jpg exists, or pass --data-root / set "
           "WORKBENCH_DATA")


def davis_dir(root: Path) -> Path | None:
    """The ``JPEGImages/480p`` folder under the data root, or ``None`` if neither location exists."""
    for rel in CANDIDATES:
        if (Path(root) / rel).is_dir():
            return Path(root) / rel
    return None


def check_davis(root: Path, *, deep: bool = False) -> list[str]:
    """Problems with the DAVIS-2017 trainval 480p copy under data root ``root``, one line each."""
    base = davis_dir(root)
    if base is None:
        return [f"{Path(root) / CANDIDATES[0]}: DAVIS-2017 trainval 480p not found; {_OBTAIN}"]
    problems: list[str] = []
    strays = stray_images(base)
    if strays:
        problems.append(f"{base}: frames lie directly in 480p/ (e.g. {strays[0].name}); "
                        "each sequence needs its own folder 480p/<seq>/%05d.jpg")
    seqs = sorted(p for p in base.iterdir() if p.is_dir())
    if len(seqs) != N_SEQUENCES:
        problems.append(f"{base}: {len(seqs)} sequence folders, DAVIS-2017 trainval has {N_SEQUENCES}; "
                        "unpack the complete trainval archive (not test-dev, not a subset)")
    total = 0
    for seq in seqs:
        total += len(list_frames(seq))
        problems.extend(check_sequence_folder(seq, expected_hw=SIZE_HW, deep=deep, contiguous=True,
                                              dataset="DAVIS 480p", frames=FRAMES))
    if seqs and len(seqs) == N_SEQUENCES and total != N_FRAMES:
        problems.append(f"{base}: {total} frames in total, DAVIS-2017 trainval 480p has {N_FRAMES}; "
                        "re-extract the archive")
    return problems


def open_davis(root: Path, *, max_frames: int | None = None) -> list[Sequence]:
    """The DAVIS-2017 trainval sequences (sorted by name), each cut to ``max_frames``.

    Raises :class:`DatasetError` with the first problem of :func:`check_davis`.
    """
    problems = check_davis(root)
    if problems:
        raise DatasetError(problems[0])
    base = davis_dir(root)
    assert base is not None
    folders = sorted(p for p in base.iterdir() if p.is_dir())
    return [FolderSequence(root=p, name=p.name, frames=FRAMES).limit(max_frames) for p in folders]
