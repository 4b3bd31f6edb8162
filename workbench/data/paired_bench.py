"""Paired video benchmarks on disk (deraining, dehazing): one layout description, one checker, one opener.

A :class:`PairedLayout` says where a split lives under the data root and how its degraded and clean videos
pair up:

- ``pairing="folders"`` (RainSyn*, REVIDE): ``<folder>/<degraded>/<video>/<frames>`` beside
  ``<folder>/<clean>/<video>/<frames>``, videos matched by name;
- ``pairing="suffix"`` (NTURain): ``<folder>/<video>_Rain[_NN]/`` beside ``<folder>/<video>_GT/`` in one
  folder; the sequence is named after the rainy folder without ``_Rain`` (``a1``, ``t3_02``).

:func:`check_layout` returns one line per problem, each naming the path and the fix: split folder or role
folder missing, a video without its pair, a test split of the wrong size, a video without frames, frame
counts that differ, frame numbers that are not ``first_frame .. first_frame + T − 1``, frames of another file
type or size (:func:`workbench.data.layout.check_sequence_folder`; with ``deep`` every frame decoded).
:func:`open_layout` returns :class:`~workbench.data.paired.StackedPair` sequences in name order after
the check, or raises :class:`DatasetError` with its first line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.data.frameformat import FrameFormat
from workbench.data.layout import check_sequence_folder, stray_images
from workbench.data.paired import folder_pair
from workbench.data.readers import frame_number, image_size, list_frames
from workbench.data.sequence import Sequence
from workbench.errors import DatasetError


@dataclass(frozen=True)
class PairedLayout:
    """Where one split of a paired benchmark lives (relative to the data root) and what it holds.

    ``videos``: the number of videos the split must have (``None``: not checked); ``size_hw``: the frame
    size ``(H, W)`` every frame must have (``None``: any one size per video); ``first_frame``: the number of
    the first frame file (RainSyn ``1.png``, REVIDE ``00000.JPG``); ``obtain``: where to get the data."""

    title: str
    folder: str
    frames: FrameFormat
    first_frame: int
    degraded: str = ""
    clean: str = ""
    pairing: Literal["folders", "suffix"] = "folders"
    videos: int | None = None
    size_hw: tuple[int, int] | None = None
    obtain: str = ""


def _pairs(layout: PairedLayout, base: Path) -> tuple[dict[str, tuple[Path, Path]], list[str]]:
    """Sequence name → (degraded folder, clean folder), and the problems of the pairing itself."""
    if layout.pairing == "suffix":
        return _suffix_pairs(base)
    problems: list[str] = []
    roots = {role: base / sub for role, sub in (("degraded", layout.degraded), ("clean", layout.clean))}
    for role, root in roots.items():
        if not root.is_dir():
            problems.append(f"{root}: {role} folder of {layout.title} missing; the split holds "
                            f"{layout.degraded}/ (degraded) and {layout.clean}/ (clean), one folder per video")
    if problems:
        return {}, problems
    for role, root in roots.items():
        for img in stray_images(root)[:1]:
            problems.append(f"{root}: frames lie directly in the {role} folder (e.g. {img.name}); put each video "
                            f"in its own folder {root}/<video>/")
    deg = {p.name: p for p in roots["degraded"].iterdir() if p.is_dir()}
    cln = {p.name: p for p in roots["clean"].iterdir() if p.is_dir()}
    for name in sorted(deg.keys() - cln.keys()):
        problems.append(f"{roots['clean'] / name}: missing; it is the clean pair of {deg[name]}")
    for name in sorted(cln.keys() - deg.keys()):
        problems.append(f"{roots['degraded'] / name}: missing; it is the degraded pair of {cln[name]}")
    return {n: (deg[n], cln[n]) for n in sorted(deg.keys() & cln.keys())}, problems


def _suffix_pairs(base: Path) -> tuple[dict[str, tuple[Path, Path]], list[str]]:
    folders = {p.name: p for p in base.iterdir() if p.is_dir()}
    pairs: dict[str, tuple[Path, Path]] = {}
    problems: list[str] = []
    for name, folder in sorted(folders.items()):
        if "_Rain" not in name:
            continue
        video = name.split("_Rain")[0]
        gt = f"{video}_GT"
        if gt not in folders:
            problems.append(f"{base / gt}: missing; it is the clean pair of {folder}")
            continue
        pairs[name.replace("_Rain", "")] = (folder, folders[gt])
    paired_gt = {c.name for _, c in pairs.values()}
    for name in sorted(n for n in folders if n.endswith("_GT") and n not in paired_gt):
        problems.append(f"{folders[name]}: no rainy video {name[:-3]}_Rain beside it; restore it or remove the GT")
    return pairs, problems


def _check_numbers(folder: Path, first: int) -> list[str]:
    numbers = [frame_number(p) for p in list_frames(folder)]
    if numbers and numbers != list(range(first, first + len(numbers))):
        return [f"{folder}: frame numbers are not {first}..{first + len(numbers) - 1}; some frames are missing or "
                "misnamed: re-extract the video"]
    return []


def _check_pair(layout: PairedLayout, deg: Path, cln: Path, deep: bool) -> list[str]:
    problems: list[str] = []
    for folder in (deg, cln):
        found = check_sequence_folder(folder, expected_hw=layout.size_hw, deep=deep, dataset=layout.title,
                                      frames=layout.frames)
        problems.extend(found or _check_numbers(folder, layout.first_frame))
    if problems:
        return problems
    fd, fc = list_frames(deg), list_frames(cln)
    if len(fd) != len(fc):
        return [f"{deg}: {len(fd)} frames but {cln} has {len(fc)}; each degraded frame needs its clean frame"]
    sd, sc = image_size(fd[0]), image_size(fc[0])
    if sd != sc:
        return [f"{fd[0]}: {sd[1]}x{sd[0]} but its clean pair {fc[0]} is {sc[1]}x{sc[0]} (WxH); pairs must "
                "match in size: use the original frames"]
    return []


def check_layout(layout: PairedLayout, root: Path, *, deep: bool = False) -> list[str]:
    """Problems of ``layout`` under data root ``root``, one line each (``[]``: usable)."""
    base = Path(root) / layout.folder
    if not base.is_dir():
        return [f"{base}: {layout.title} not found; {layout.obtain}, or pass --data-root / set WORKBENCH_DATA"]
    pairs, problems = _pairs(layout, base)
    if not pairs and not problems:
        problems.append(f"{base}: no videos; expected {layout.title} as described in docs/protocols.md §3–4")
    if layout.videos is not None and pairs and not problems and len(pairs) != layout.videos:
        problems.append(f"{base}: {len(pairs)} paired videos, but {layout.title} has {layout.videos}; "
                        "a partial copy gives other numbers than the paper's: restore the complete split")
    for deg, cln in pairs.values():
        problems.extend(_check_pair(layout, deg, cln, deep))
    return problems


def open_layout(layout: PairedLayout, root: Path, *, max_frames: int | None = None) -> list[Sequence]:
    """The videos of ``layout`` as degraded/clean pairs (6-channel frames, :class:`StackedPair`), in name
    order, each cut to ``max_frames``; raises :class:`DatasetError` with the first problem."""
    problems = check_layout(layout, root)
    if problems:
        raise DatasetError(problems[0])
    pairs, _ = _pairs(layout, Path(root) / layout.folder)
    return [folder_pair(name, deg, cln, layout.frames).limit(max_frames) for name, (deg, cln) in pairs.items()]
