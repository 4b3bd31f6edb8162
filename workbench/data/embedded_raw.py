"""Embedded raw clips for the CPU profiles: the embedded RGB clips unprocessed to CRVD's sensor, noised per ISO.

Two splits per family, built deterministically on first use into ``<cache>/embedded/raw-v<RAW_RECIPE_VERSION>/``
(the same unprocessing as SRVD, :func:`workbench.data.unprocess.srgb_to_raw_dn`). The smoke family is shown;
the mini family ``embedded-mini-raw-train`` / ``embedded-mini-raw-test`` is built the same way from
``embedded-mini-train`` (1020 frames, 128×224 to 144×256 mosaics) and ``embedded-mini-test`` (six clips,
their first 7 frames, 96×160 mosaics), noise seeded by its own split name:

- ``embedded-raw-train`` (from ``embedded-train``, clean only, SRVD layout ``<seq>/<t>_raw.tiff``; read by
  :class:`~workbench.data.srvd.RawFolderSequence`, noised on the fly in training);
- ``embedded-raw-test`` (from ``embedded-test``): CRVD's ``flat`` layout — sequence ``i`` (1-based, in the
  order of :data:`TEST_SOURCES`) is ``scene{i}``, each with ``ISO1600 .. ISO25600`` holding
  ``frame{k}_clean_and_slightly_denoised.tiff`` (the unprocessed frame, k = 1..7) and ``frame{k}_noisy0.tiff``
  (Poisson–Gaussian noise of that ISO, :func:`workbench.degrade.raw_noise.add_raw_noise_frame` seeded by
  ``raw_noise_seed("embedded-raw-test", "scene{i}", iso)``, rounded to the nearest DN). It is read by the
  CRVD reader, so the test path is the one real CRVD takes.

Each split has ``manifest.json`` (recipe version, source split and its file digests, the sha256 of every
file written). ``embedded_raw_checksums.json`` beside this module commits one digest of every split's file
list; a test rebuilds and compares. Frames are 96×160 mosaics (48×80 packed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data import crvd
from workbench.data.embedded import open_embedded
from workbench.data.embedded import split_dir as rgb_split_dir
from workbench.data.raw import normalize_raw
from workbench.data.rawtiff import write_raw_tiff
from workbench.data.readers import sha256_file
from workbench.data.sensor_noise import add_raw_noise_frame, raw_noise_seed
from workbench.data.sensors import CRVD
from workbench.data.sequence import Sequence
from workbench.data.srvd import RawFolderSequence
from workbench.data.unprocess import srgb_to_raw_dn
from workbench.errors import ConfigError
from workbench.paths import cache_root

RAW_RECIPE_VERSION = 1
SOURCES = {"embedded-raw-train": "embedded-train", "embedded-raw-test": "embedded-test",
           "embedded-mini-raw-train": "embedded-mini-train", "embedded-mini-raw-test": "embedded-mini-test"}
RAW_SPLITS = tuple(SOURCES)
TEST_SPLITS = ("embedded-raw-test", "embedded-mini-raw-test")  # CRVD's flat layout, noise baked in
TEST_FRAMES = 7
CHECKSUMS_FILE = Path(__file__).with_name("embedded_raw_checksums.json")


def raw_split_dir(split: str) -> Path:
    if split not in SOURCES:
        raise ConfigError(f"unknown embedded raw split {split!r}; known: {', '.join(RAW_SPLITS)}")
    return cache_root() / "embedded" / f"raw-v{RAW_RECIPE_VERSION}" / split


def _to_dn(x: np.ndarray) -> np.ndarray:
    span = CRVD.white - CRVD.black
    return np.clip(np.round(x * span + CRVD.black), 0, CRVD.white).astype(np.uint16)


def _build_train(folder: Path, seqs: list[Sequence]) -> None:
    for seq in seqs:
        for t in range(len(seq)):
            write_raw_tiff(folder / seq.name / f"{t:05d}_raw.tiff", srgb_to_raw_dn(seq.frame(t)))


def _build_test(folder: Path, seqs: list[Sequence], split: str) -> None:
    for i, seq in enumerate(seqs, start=1):
        clean = [srgb_to_raw_dn(seq.frame(t)) for t in range(TEST_FRAMES)]
        for iso in CRVD.isos:
            d = folder / f"scene{i}" / f"ISO{iso}"
            seed = raw_noise_seed(split, f"scene{i}", iso)
            for k, mosaic in enumerate(clean, start=1):
                write_raw_tiff(d / crvd.gt_name(k), mosaic)
                noisy = add_raw_noise_frame(normalize_raw(mosaic), iso, seed, k - 1)
                write_raw_tiff(d / crvd.noisy_name(k, 0), _to_dn(noisy))


def _file_entries(folder: Path) -> list[dict[str, str]]:
    files = sorted(p for p in folder.rglob("*.tiff"))
    return [{"file": p.relative_to(folder).as_posix(), "sha256": sha256_file(p)} for p in files]


def files_digest(entries: list[dict[str, str]]) -> str:
    """sha256 of the ``file sha256`` lines of a manifest (the committed per-split digest)."""
    return hashlib.sha256("".join(f"{e['file']} {e['sha256']}\n" for e in entries).encode()).hexdigest()


def _build(split: str, folder: Path) -> None:
    source = SOURCES[split]
    seqs = open_embedded(source)
    if split in TEST_SPLITS:
        _build_test(folder, seqs, split)
    else:
        _build_train(folder, seqs)
    src_manifest = rgb_split_dir(source) / "manifest.json"
    entries = _file_entries(folder)
    manifest = {"split": split, "recipe_version": RAW_RECIPE_VERSION, "source_split": source,
                "source_manifest_sha256": sha256_file(src_manifest), "sensor": CRVD.name,
                "pattern": CRVD.pattern, "black": CRVD.black, "white": CRVD.white,
                "files_digest": files_digest(entries), "files": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def _complete(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("recipe_version") == RAW_RECIPE_VERSION and all(
        (folder / e["file"]).is_file() for e in manifest["files"])


def ensure_raw_split(split: str) -> Path:
    """Build ``split`` if needed (in a temporary folder renamed into place); return its folder."""
    target = raw_split_dir(split)
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{split}.build-", dir=target.parent))
    try:
        _build(split, tmp / split)
        if not _complete(target):
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp / split, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def open_embedded_raw(split: str, *, max_frames: int | None = None) -> list[Sequence]:
    folder = ensure_raw_split(split)
    if split in TEST_SPLITS:
        scenes = tuple(range(1, len(open_embedded(SOURCES[split])) + 1))
        return list(crvd.open_crvd(folder, scenes=scenes, max_frames=max_frames))
    names = sorted(p.name for p in folder.iterdir() if p.is_dir())
    return [RawFolderSequence(root=folder / n, name=n).limit(max_frames) for n in names]


def check_embedded_raw(split: str) -> list[str]:
    """Problems of a built split: files changed since its manifest, or a digest other than the committed."""
    folder = ensure_raw_split(split)
    manifest = json.loads((folder / "manifest.json").read_text())
    problems = [f"{folder / e['file']}: sha256 differs from manifest.json; delete {folder} to rebuild it"
                for e in manifest["files"] if sha256_file(folder / e["file"]) != e["sha256"]][:1]
    committed = committed_digests().get(split)
    if committed and committed != manifest["files_digest"]:
        problems.append(f"{folder}: files digest {manifest['files_digest'][:16]} differs from the committed "
                        f"{committed[:16]} ({CHECKSUMS_FILE.name}); the build is not reproducible here")
    return problems


def committed_digests() -> dict[str, str]:
    if not CHECKSUMS_FILE.is_file():
        return {}
    data: dict[str, Any] = json.loads(CHECKSUMS_FILE.read_text())
    if data.get("recipe_version") != RAW_RECIPE_VERSION:
        return {}
    return dict(data["splits"])


def write_committed_digests() -> Path:
    """Rewrite ``embedded_raw_checksums.json`` from freshly checked builds (after a recipe change)."""
    digests = {s: json.loads((ensure_raw_split(s) / "manifest.json").read_text())["files_digest"]
               for s in RAW_SPLITS}
    CHECKSUMS_FILE.write_text(json.dumps({"recipe_version": RAW_RECIPE_VERSION, "splits": digests}, indent=1)
                              + "\n")
    return CHECKSUMS_FILE
