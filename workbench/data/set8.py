"""Set8: the FastDVDnet test set (8 sequences, 960×540), docs/protocols.md §1.2 and §1.6.

Accepted layouts under the data root (``$WORKBENCH_DATA`` or ``--data-root``):

- flat (VRT/KAIR, FloRNN): ``<root>/Set8/<seq>/<frames>``;
- grouped (UDVD): ``<root>/Set8/GoPro/{hypersmooth,motorbike,rafting,snowboard}/`` and
  ``<root>/Set8/Derfs/{tractor,touchdown,park_joy,sunflower}/``.

Frames are 8-bit RGB PNG (the benchmark's lossless frames; a JPEG, 16-bit, grey, RGBA or palette frame is
refused by name), read in FastDVDnet order (digits of the file name); a sequence of fewer than
``MIN_FRAMES`` frames is refused. The evaluation protocol reads at most 85 frames per sequence
(``max_frames=85``, FloRNN/BSVD; docs/protocols.md §1.2).
"""

from __future__ import annotations

from pathlib import Path

from workbench.data.frameformat import FrameFormat
from workbench.data.layout import check_sequence_folder, stray_images
from workbench.data.readers import FolderSequence
from workbench.data.sequence import Sequence
from workbench.errors import DatasetError

DERFS = ("tractor", "touchdown", "park_joy", "sunflower")
GOPRO = ("hypersmooth", "motorbike", "rafting", "snowboard")
SEQUENCES = DERFS + GOPRO
GROUPS = {"Derfs": DERFS, "GoPro": GOPRO}
SIZE_HW = (540, 960)
MAX_FRAMES = 85
MIN_FRAMES = 3  # fewer is a broken copy, not Set8 (its sequences have tens of frames)
FRAMES = FrameFormat("Set8", extensions=(".png",))

_OBTAIN = ("Set8 (8 sequences, 960x540) comes with FastDVDnet's test data (github.com/m-tassano/fastdvdnet "
           "README) or VRT/KAIR's testset_Set8.tar.gz; unpack it as <root>/Set8/<seq>/<frames> "
           "or <root>/Set8/{GoPro,Derfs}/<seq>/, or pass --data-root / set WORKBENCH_DATA")


def set8_dir(root: Path) -> Path:
    """The Set8 folder under the data root (``root`` itself if it is already named Set8)."""
    root = Path(root)
    return root if root.name.lower() == "set8" and not (root / "Set8").is_dir() else root / "Set8"


def _find_sequences(base: Path) -> tuple[dict[str, Path], list[str]]:
    """Map expected sequence names to folders (flat or grouped); also return layout problems."""
    found: dict[str, Path] = {}
    problems: list[str] = []
    known = {s.lower(): s for s in SEQUENCES}
    groups = {g.lower(): g for g in GROUPS}
    for entry in sorted(p for p in base.iterdir() if p.is_dir()):
        key = entry.name.lower()
        if key in groups:
            for sub in sorted(p for p in entry.iterdir() if p.is_dir()):
                seq = known.get(sub.name.lower())
                if seq is None:
                    problems.append(f"{sub}: unexpected folder; Set8/{entry.name} holds only "
                                    f"{', '.join(GROUPS[groups[key]])}: move or remove it")
                    continue
                if seq not in GROUPS[groups[key]]:
                    right = "Derfs" if seq in DERFS else "GoPro"
                    problems.append(f"{sub}: {seq} belongs in Set8/{right}; move it there")
                if seq in found:
                    problems.append(f"{sub}: duplicate of {found[seq]}; keep one copy")
                    continue
                found[seq] = sub
            for img in stray_images(entry)[:1]:
                problems.append(f"{entry}: frames lie directly in the group folder (e.g. {img.name}); "
                                f"put each sequence in its own folder {entry}/<seq>/")
        elif key in known:
            seq = known[key]
            if seq in found:
                problems.append(f"{entry}: duplicate of {found[seq]}; keep one copy")
                continue
            found[seq] = entry
        else:
            problems.append(f"{entry}: unexpected folder; Set8 holds only {', '.join(SEQUENCES)} "
                            "(optionally grouped in GoPro/ and Derfs/): move or remove it")
    return found, problems


def check_set8(root: Path, *, deep: bool = False) -> list[str]:
    """Problems with the Set8 copy under data root ``root``, one line each (``[]`` if usable).

    ``deep=True`` also decodes every frame to find corrupt files.
    """
    base = set8_dir(root)
    if not base.is_dir():
        return [f"{base}: Set8 not found; {_OBTAIN}"]
    problems: list[str] = []
    strays = stray_images(base)
    if strays:
        problems.append(f"{base}: {len(strays)} frames lie directly in Set8/ (e.g. {strays[0].name}); each "
                        "sequence needs its own folder Set8/<seq>/<frames>")
    found, layout = _find_sequences(base)
    problems.extend(layout)
    for seq in SEQUENCES:
        if seq not in found:
            problems.append(f"{base / seq}: Set8 sequence {seq!r} missing; {_OBTAIN}")
            continue
        problems.extend(check_sequence_folder(found[seq], expected_hw=SIZE_HW, deep=deep, dataset="Set8",
                                              frames=FRAMES, min_frames=MIN_FRAMES))
    return problems


def open_set8(root: Path, *, max_frames: int | None = MAX_FRAMES) -> list[Sequence]:
    """The 8 Set8 sequences in FastDVDnet order (Derf's, then GoPro), each cut to ``max_frames``.

    Raises :class:`DatasetError` with the first problem of :func:`check_set8`.
    """
    problems = check_set8(root)
    if problems:
        raise DatasetError(problems[0])
    found, _ = _find_sequences(set8_dir(root))
    return [FolderSequence(root=found[s], name=s, frames=FRAMES).limit(max_frames) for s in SEQUENCES]
