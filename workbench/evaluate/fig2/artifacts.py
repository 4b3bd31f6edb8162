"""Side files of the codec study in ``ctx.artifact_dir`` (all written atomically).

- ``<method>-sigma<σ>.json``: CompressAI-style results (``{"name", "description", "results": {"bpp": [...],
  "psnr-rgb": [...], ...}}``), one list entry per rate point, each the mean over sequences;
  ``psnr-*``/``ssim-*`` against the clean clip, ``*-noisy`` against the 8-bit noisy input.
- ``crops/*.png`` + ``crops/crops.json``: the centre crop of the middle frame of one sequence — clean,
  noisy, and every rate point of every codec — for the figure's matched-bpp panels.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np

from workbench.atomic import write_bytes, write_text
from workbench.evaluate.fig2.runners import PointResult

_KEYS = {"psnr_db": "psnr-rgb", "psnr_y_db": "psnr-y", "ssim": "ssim-rgb"}


def _mean(points: list[PointResult], get: Any) -> float:
    return float(np.mean([get(p) for p in points]))


def compressai_json(points: list[PointResult], *, name: str, description: str) -> dict[str, Any]:
    """Group ``points`` (one codec, one σ) by rate point, ordered by bpp, into CompressAI's layout."""
    by_rp: dict[str, list[PointResult]] = {}
    for p in points:
        by_rp.setdefault(p.rate_point, []).append(p)
    groups = sorted(by_rp.values(), key=lambda g: _mean(g, lambda p: p.bpp))
    results: dict[str, list[Any]] = {
        "rate_point": [g[0].rate_point for g in groups],
        "bpp": [_mean(g, lambda p: p.bpp) for g in groups],
    }
    for key, label in _KEYS.items():
        results[label] = [_mean(g, lambda p, k=key: p.clean[k]) for g in groups]
        results[f"{label}-noisy"] = [_mean(g, lambda p, k=key: p.noisy[k]) for g in groups]
    for key in ("bpp_estimated", "rate_gap_pct", "seconds_encode", "seconds_decode", "seconds_encode_decode"):
        if all(key in p.extra for p in points):
            results[key.replace("_", "-")] = [_mean(g, lambda p, k=key: p.extra[k]) for g in groups]
    return {"name": name, "description": description, "results": results}


def write_json(path: Path, obj: dict[str, Any]) -> None:
    write_text(path, json.dumps(obj, indent=1, default=float) + "\n")


def png_bytes(frame: np.ndarray) -> bytes:
    """float (H, W, 3) in [0, 1] → PNG bytes (clipped, rounded to 8 bits)."""
    buf = io.BytesIO()
    iio.imwrite(buf, np.rint(np.clip(frame, 0, 1) * 255).astype(np.uint8), extension=".png")
    return buf.getvalue()


def write_crops(
    crop_dir: Path,
    *,
    sequence: str,
    frame: int,
    box: tuple[int, int, int, int],
    references: dict[str, np.ndarray],
    points: list[PointResult],
) -> list[dict[str, Any]]:
    """Write reference crops (``clean``, ``noisy-sigma20``, ...) and each point's crop; return the index."""
    index: list[dict[str, Any]] = []
    for label, img in references.items():
        fname = f"{label}.png"
        write_bytes(crop_dir / fname, png_bytes(img))
        kind, _, sig = label.partition("-sigma")
        index.append(
            {
                "file": fname,
                "kind": kind,
                "sigma": float(sig) if sig else None,
                "method": "",
                "rate_point": "",
                "bpp": None,
                "psnr_db": None,
            }
        )
    for p in points:
        if p.crop is None:
            continue
        fname = f"{p.method}-sigma{p.sigma:g}-{p.rate_point.replace('=', '')}.png"
        write_bytes(crop_dir / fname, png_bytes(p.crop))
        index.append(
            {
                "file": fname,
                "kind": "codec",
                "sigma": p.sigma,
                "method": p.method,
                "rate_point": p.rate_point,
                "bpp": p.bpp,
                "psnr_db": p.clean["psnr_db"],
                "psnr_noisy_db": p.noisy["psnr_db"],
            }
        )
    write_json(
        crop_dir / "crops.json",
        {"sequence": sequence, "frame": frame, "box_top_left_height_width": list(box), "crops": index},
    )
    return index
