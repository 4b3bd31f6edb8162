"""Shared checks for on-disk sequence folders (used by the Set8 and DAVIS layout validators).

Each check returns human lines, one per problem, each naming the path at fault and the fix.
"""

from __future__ import annotations

from pathlib import Path

from workbench.data.frameformat import RGB8, FrameFormat
from workbench.data.readers import check_frame, frame_number, list_frames, read_frame
from workbench.errors import DatasetError


def check_sequence_folder(folder: Path, *, expected_hw: tuple[int, int] | None, deep: bool = False,
                          contiguous: bool = False, dataset: str = "this dataset", frames: FrameFormat = RGB8,
                          min_frames: int = 1) -> list[str]:
    """Problems of one ``<seq>/<frames>`` folder.

    Checks: at least ``min_frames`` frames; every frame header readable and of the declared ``frames``
    format (file type, bit depth, RGB; the first such problem of the folder, with a count); one size for
    all frames; that size equals ``expected_hw`` ``(H, W)`` when given; with ``contiguous`` frame numbers
    ``0 .. T-1`` (``%05d`` naming); with ``deep`` every frame fully decoded (finds truncated files).
    """
    files = list_frames(folder)
    if not files:
        return [f"{folder}: no frames (.png/.jpg/.bmp/.tif); extract the sequence's frames into it"]
    problems: list[str] = []
    if len(files) < min_frames:
        problems.append(f"{folder}: {len(files)} frame(s), but a {dataset} sequence needs at least {min_frames}; "
                        "extract the complete sequence")
    sizes: dict[tuple[int, int], Path] = {}
    refused: list[str] = []
    for path in files:
        try:
            hw = check_frame(path, frames)
            if deep:
                read_frame(path, frames)
        except DatasetError as exc:
            refused.append(str(exc))
            continue
        sizes.setdefault(hw, path)
    if refused:
        more = f" (and {len(refused) - 1} more frame(s) of {folder.name})" if len(refused) > 1 else ""
        problems.append(refused[0] + more)
    if len(sizes) > 1:
        desc = ", ".join(f"{w}x{h} ({p.name})" for (h, w), p in sizes.items())
        problems.append(f"{folder}: mixed frame sizes {desc} (WxH); re-extract the sequence at one size")
    elif sizes and expected_hw is not None:
        (h, w), first = next(iter(sizes.items()))
        if (h, w) != expected_hw:
            eh, ew = expected_hw
            problems.append(f"{folder}: frames are {w}x{h} but {dataset} is {ew}x{eh} (WxH) "
                            f"(e.g. {first.name}); use the original frames, not a resized copy")
    if contiguous:
        numbers = [frame_number(p) for p in files]
        if numbers != list(range(len(files))):
            problems.append(f"{folder}: frame numbers are not 0..{len(files) - 1} (%05d naming); "
                            "some frames are missing or misnamed: re-extract the sequence")
    return problems


def stray_images(folder: Path) -> list[Path]:
    """Image files lying directly in a folder that should hold only sequence folders."""
    return list_frames(folder) if folder.is_dir() else []
