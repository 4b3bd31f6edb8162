"""Embedded paired splits: the embedded smoke clips with synthetic rain or haze, for the CPU profiles of
Tables 3, 4 and 7 (deraining and dehazing columns).

Each split takes the clean frames of one embedded split (same sequences, same train/test separation, same
manifest and checksums: :mod:`workbench.data.embedded`) and a degradation preset of
:mod:`workbench.degrade.embedded_paired`, which renders it (pure, seeded per split and sequence)::

    <cache>/embedded/paired-v<PAIRED_RECIPE_VERSION>/<split>/manifest.json     preset, parameters, seeds, sha256
    <cache>/embedded/paired-v<PAIRED_RECIPE_VERSION>/<split>/<seq>/00000.png   degraded frames (96x160 RGB)

The clean frames are read from the base split's folder, never copied. This module only reads a built split;
building is the degrade layer's (``workbench data build-embedded``, and every pipeline cell that uses one
builds it first), since the rain and haze models sit above the data layer.

=============================  ==================  =====================  ==============================
split                          clean frames of     preset                 stands in for
=============================  ==================  =====================  ==============================
``embedded-rain-train/-test``  embedded-train/test ``rain-accumulation``  RainSynAll100 (streaks + veil)
``embedded-rainstreak-…``      embedded-train/test ``rain-streaks``       RainSynComplex25 (streaks)
``embedded-haze-train/-test``  embedded-train/test ``haze``               REVIDE-indoor (real haze)
=============================  ==================  =====================  ==============================

The mini family (the ``mini`` profiles of Tables 3, 4 and 7) is the same three presets over the mini clips:
``embedded-mini-{rain,rainstreak,haze}-{train,test}`` from ``embedded-mini-train`` (1020 frames, 128×224 to
144×256) and ``embedded-mini-test`` (six clips of 30 frames, 96×160); seeds follow the split's own name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.data import embedded
from workbench.data.paired import StackedPair
from workbench.data.readers import FolderSequence, sha256_file
from workbench.data.sequence import Sequence
from workbench.errors import ConfigError, DatasetError
from workbench.paths import cache_root

PAIRED_RECIPE_VERSION = 1


@dataclass(frozen=True)
class PairedSplit:
    """An embedded paired split: the clean frames of embedded split ``base``, degraded by ``preset``."""

    base: str
    preset: str
    stands_in_for: str


PAIRED_SPLITS: dict[str, PairedSplit] = {
    "embedded-rain-train": PairedSplit("embedded-train", "rain-accumulation", "rainsyn-all100-train"),
    "embedded-rain-test": PairedSplit("embedded-test", "rain-accumulation", "rainsyn-all100"),
    "embedded-rainstreak-train": PairedSplit("embedded-train", "rain-streaks", "rainsyn-complex25-train"),
    "embedded-rainstreak-test": PairedSplit("embedded-test", "rain-streaks", "rainsyn-complex25"),
    "embedded-haze-train": PairedSplit("embedded-train", "haze", "revide-indoor-train"),
    "embedded-haze-test": PairedSplit("embedded-test", "haze", "revide-indoor"),
    "embedded-mini-rain-train": PairedSplit("embedded-mini-train", "rain-accumulation", "rainsyn-all100-train"),
    "embedded-mini-rain-test": PairedSplit("embedded-mini-test", "rain-accumulation", "rainsyn-all100"),
    "embedded-mini-rainstreak-train": PairedSplit("embedded-mini-train", "rain-streaks", "rainsyn-complex25-train"),
    "embedded-mini-rainstreak-test": PairedSplit("embedded-mini-test", "rain-streaks", "rainsyn-complex25"),
    "embedded-mini-haze-train": PairedSplit("embedded-mini-train", "haze", "revide-indoor-train"),
    "embedded-mini-haze-test": PairedSplit("embedded-mini-test", "haze", "revide-indoor"),
}


def paired_split(split: str) -> PairedSplit:
    if split not in PAIRED_SPLITS:
        raise ConfigError(f"unknown embedded paired split {split!r}; known: {', '.join(PAIRED_SPLITS)}")
    return PAIRED_SPLITS[split]


def paired_dir(split: str) -> Path:
    """Folder of the degraded frames and the manifest of ``split``."""
    paired_split(split)
    return cache_root() / "embedded" / f"paired-v{PAIRED_RECIPE_VERSION}" / split


def read_manifest(split: str) -> dict[str, Any] | None:
    """The manifest of a complete build of ``split`` (recipe version matches, every file present at its
    size), else ``None``."""
    folder = paired_dir(split)
    try:
        manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("recipe_version") != PAIRED_RECIPE_VERSION:
        return None
    for seq in manifest["sequences"]:
        for entry in seq["frames"]:
            path = folder / entry["file"]
            if not path.is_file() or path.stat().st_size != entry["bytes"]:
                return None
    return manifest


def _manifest_or_raise(split: str) -> dict[str, Any]:
    manifest = read_manifest(split)
    if manifest is None:
        raise DatasetError(f"{paired_dir(split)}: embedded paired split not built (or incomplete); run "
                           f"`workbench data build-embedded --splits {split}` (pipelines build it on first use)")
    return manifest


def open_paired_split(split: str, *, max_frames: int | None = None) -> list[Sequence]:
    """The sequences of ``split`` as degraded/clean pairs (:class:`StackedPair`, 6-channel frames), in the base
    split's order."""
    manifest = _manifest_or_raise(split)
    clean_root = embedded.split_dir(paired_split(split).base)
    folder = paired_dir(split)
    out: list[Sequence] = []
    for seq in manifest["sequences"]:
        name = seq["name"]
        degraded = FolderSequence(root=folder / name, name=name, frames=embedded.FRAMES)
        clean = FolderSequence(root=clean_root / name, name=name, frames=embedded.FRAMES)
        out.append(StackedPair(name=name, degraded=degraded, clean=clean).limit(max_frames))
    return out


def manifest_checksums(split: str) -> dict[str, str]:
    """Absolute path → sha256 of every degraded frame of a built ``split`` (``{}`` when not built)."""
    manifest = read_manifest(split)
    if manifest is None:
        return {}
    folder = paired_dir(split)
    return {str(folder / e["file"]): e["sha256"] for s in manifest["sequences"] for e in s["frames"]}


def check_paired_split(split: str) -> list[str]:
    """Problems (one line each): not built, a degraded frame whose sha256 differs from the manifest, or a
    clean frame of the base split that differs from its own manifest."""
    try:
        manifest = _manifest_or_raise(split)
    except DatasetError as exc:
        return [str(exc)]
    folder = paired_dir(split)
    problems = [f"{folder / e['file']}: sha256 differs from {folder / 'manifest.json'}; delete {folder} to "
                "rebuild it" for s in manifest["sequences"] for e in s["frames"]
                if sha256_file(folder / e["file"]) != e["sha256"]]
    return problems + embedded.check_embedded(paired_split(split).base)
