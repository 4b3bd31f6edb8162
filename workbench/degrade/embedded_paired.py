"""Build the embedded paired splits (:mod:`workbench.data.embedded_paired`): the embedded clips with rain
or haze, rendered by :mod:`workbench.degrade.rain` and :mod:`workbench.degrade.haze`.

Presets (the parameters are written into every split's manifest):

- ``rain-streaks`` (RainSynComplex25 stand-in): density 0.004, length 15 px, 12° from vertical, intensity 0.8;
- ``rain-accumulation`` (RainSynAll100 stand-in): the same streaks plus the accumulation veil, β = 0.9 per unit
  depth over the ramp 1.5 (top) → 0.3 (bottom), airlight 0.85;
- ``haze`` (REVIDE stand-in): β ∈ [0.8, 1.4], airlight ∈ [0.75, 0.95] drawn per sequence, same depth ramp.

Seeds: :func:`~workbench.degrade.rain.rain_seed` / :func:`~workbench.degrade.haze.haze_seed` of ``(split,
sequence)``; frame ``t`` depends on ``(seed, t)`` only. Frames are rounded to 8 bits (``round(255 · x)``) and
written as stored-deflate PNG (:mod:`workbench.data.pngfile`), so a split's bytes depend on its pixels alone;
the build goes into a temporary folder renamed into place (a killed build leaves nothing half-built).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data import embedded
from workbench.data.embedded_paired import PAIRED_RECIPE_VERSION, paired_dir, paired_split, read_manifest
from workbench.data.pngfile import write_png
from workbench.data.readers import sha256_file
from workbench.degrade.haze import HazeParams, add_haze_frame, draw_haze, haze_seed
from workbench.degrade.rain import RainParams, add_rain_frame, rain_seed

PRESETS: dict[str, RainParams | HazeParams] = {
    "rain-streaks": RainParams(density=0.004, length=15, angle=12.0, intensity=0.8),
    "rain-accumulation": RainParams(density=0.004, length=15, angle=12.0, intensity=0.8, accumulation_beta=0.9,
                                    airlight=0.85, near=0.3, far=1.5),
    "haze": HazeParams(beta_min=0.8, beta_max=1.4, airlight_min=0.75, airlight_max=0.95, near=0.3, far=1.5),
}


def sequence_seed(preset: str, split: str, sequence: str) -> int:
    """The seed of one sequence of a split rendered with ``preset``."""
    return haze_seed(split, sequence) if isinstance(PRESETS[preset], HazeParams) else rain_seed(split, sequence)


def degrade_frame(preset: str, frame: np.ndarray, seed: int, frame_index: int) -> np.ndarray:
    """``frame`` ``(H, W, 3)`` float32 in [0, 1] rendered with ``preset``; float32 in [0, 1]."""
    params = PRESETS[preset]
    if isinstance(params, HazeParams):
        return add_haze_frame(frame, params, seed)
    return add_rain_frame(frame, params, seed, frame_index)


def to_uint8(frame: np.ndarray) -> np.ndarray:
    return np.round(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8)


def _build(split: str, folder: Path) -> None:
    info = paired_split(split)
    params = PRESETS[info.preset]
    base_dir = embedded.ensure_split(info.base)
    sequences = []
    for seq in embedded.open_embedded(info.base):
        seed = sequence_seed(info.preset, split, seq.name)
        (folder / seq.name).mkdir(parents=True)
        entries = []
        for t in range(len(seq)):
            rel = f"{seq.name}/{t:05d}.png"
            write_png(folder / rel, to_uint8(degrade_frame(info.preset, seq.frame(t), seed, t)))
            entries.append({"file": rel, "sha256": sha256_file(folder / rel), "bytes": (folder / rel).stat().st_size})
        extra: dict[str, Any] = asdict(draw_haze(params, seed)) if isinstance(params, HazeParams) else {}
        sequences.append({"name": seq.name, "seed": seed, "draw": extra, "frames": entries})
    manifest = {"split": split, "recipe_version": PAIRED_RECIPE_VERSION, "base_split": info.base,
                "base_manifest_sha256": sha256_file(base_dir / "manifest.json"), "preset": info.preset,
                "model": type(params).__name__, "params": asdict(params), "stands_in_for": info.stands_in_for,
                "seed_rule": "sha256 of '<rain|haze>/<split>/<sequence>', frame t from rng([seed, t])",
                "sequences": sequences}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def ensure_paired_split(split: str) -> Path:
    """Build ``split`` if it is not complete (into a temporary folder, renamed into place); return its folder."""
    return embedded.build_in_place(paired_dir(split), lambda: read_manifest(split) is not None,
                                   lambda folder: _build(split, folder))
