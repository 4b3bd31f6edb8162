"""Rate–distortion curves and the matched-bpp PSNR gap (the claim of paper §3 / Fig. 2, measured).

Method (declared in every gap row as ``interpolation``): each codec's curve is its dataset-level
points (mean bpp over sequences, mean PSNR over sequences) sorted by bpp, interpolated
**piecewise-linearly in log(bpp)**. The gap ``learned − x265`` is

- ``rate_point = "overlap-mean"``: the mean of the difference over the overlapping bpp range, sampled
  uniformly in log(bpp) (a BD-PSNR with linear instead of cubic interpolation);
- ``rate_point = "lambda=…"``: the difference at each learned point whose bpp lies inside x265's range.

Positive: the learned codec is closer to the reference at the same rate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

INTERPOLATION = "piecewise-linear PSNR vs log(bpp); overlap mean sampled uniformly in log(bpp) (512 points)"


def interp_log_bpp(bpp: list[float], value: list[float], at: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation of ``value`` over ``log(bpp)`` at bpp ``at`` (inside the range)."""
    order = np.argsort(bpp)
    x = np.log(np.asarray(bpp, dtype=np.float64)[order])
    y = np.asarray(value, dtype=np.float64)[order]
    return np.interp(np.log(at), x, y)


def overlap(a: list[float], b: list[float]) -> tuple[float, float] | None:
    lo, hi = max(min(a), min(b)), min(max(a), max(b))
    return (lo, hi) if lo < hi else None


def matched_gap(
    x_bpp: list[float], x_val: list[float], l_bpp: list[float], l_val: list[float]
) -> tuple[float, tuple[float, float] | None]:
    """Mean of ``learned − x265`` over the overlapping bpp range (NaN, ``None`` when they do not overlap)."""
    rng = overlap(x_bpp, l_bpp)
    if rng is None:
        return math.nan, None
    grid = np.exp(np.linspace(math.log(rng[0]), math.log(rng[1]), 512))
    diff = interp_log_bpp(l_bpp, l_val, grid) - interp_log_bpp(x_bpp, x_val, grid)
    return float(diff.mean()), rng


def curve(
    rows: list[dict[str, Any]], *, method: str, sigma: float, metric: str, reference: str, sequence: str = ""
) -> tuple[list[float], list[float], list[str]]:
    """``(bpp, value, rate_point)`` of the dataset-level rows (``sequence=""``) or of one sequence's rows,
    ordered by bpp."""
    level = "sequence" if sequence else "dataset"
    sel = [r for r in rows if r.get("level") == level and r["method"] == method and r.get("sigma") == sigma
           and (not sequence or r.get("sequence") == sequence)]
    bpp = {r["rate_point"]: r["value"] for r in sel if r["metric"] == "bpp"}
    val = {r["rate_point"]: r["value"] for r in sel if r["metric"] == metric and r.get("reference") == reference}
    points = sorted((bpp[k], val[k], k) for k in bpp if k in val)
    return [p[0] for p in points], [p[1] for p in points], [p[2] for p in points]


def gap_rows(
    rows: list[dict[str, Any]],
    *,
    dataset: str,
    sigma: float,
    metric: str = "psnr_db",
    learned: str = "learned-hyperprior",
    anchor: str = "x265",
) -> list[dict[str, Any]]:
    """``psnr_gap_db_at_matched_bpp`` rows (clean and noisy references) from dataset-level curve rows, and
    one ``overlap-mean`` row per sequence (``level = "sequence"``: that sequence's own two curves), the
    sample a claim's interval is formed over."""
    out = []
    for reference in ("clean", "noisy"):
        out += _sequence_gaps(rows, dataset=dataset, sigma=sigma, metric=metric, reference=reference,
                              learned=learned, anchor=anchor)
        xb, xv, _ = curve(rows, method=anchor, sigma=sigma, metric=metric, reference=reference)
        lb, lv, lp = curve(rows, method=learned, sigma=sigma, metric=metric, reference=reference)
        if len(xb) < 2 or len(lb) < 1:
            continue
        base = {
            "method": learned,
            "dataset": dataset,
            "sigma": sigma,
            "metric": "psnr_gap_db_at_matched_bpp",
            "reference": reference,
            "against": anchor,
            "of_metric": metric,
            "level": "dataset",
            "sequence": "",
            "interpolation": INTERPOLATION,
        }
        mean, rng = matched_gap(xb, xv, lb, lv) if len(lb) >= 2 else (math.nan, None)
        out.append(
            {
                **base,
                "setting": f"sigma={sigma:g}",
                "rate_point": "overlap-mean",
                "value": mean,
                "bpp_lo": rng[0] if rng else math.nan,
                "bpp_hi": rng[1] if rng else math.nan,
                "note": "" if rng else "bpp ranges do not overlap",
            }
        )
        for b, v, p in zip(lb, lv, lp):
            if min(xb) <= b <= max(xb):
                gap = v - float(interp_log_bpp(xb, xv, np.array([b]))[0])
                out.append(
                    {
                        **base,
                        "setting": f"sigma={sigma:g};{p}",
                        "rate_point": p,
                        "value": gap,
                        "bpp_lo": b,
                        "bpp_hi": b,
                        "note": "",
                    }
                )
    return out


def _sequence_gaps(
    rows: list[dict[str, Any]], *, dataset: str, sigma: float, metric: str, reference: str, learned: str,
    anchor: str,
) -> list[dict[str, Any]]:
    """The overlap-mean gap of each sequence (NaN with a note where its two bpp ranges do not overlap)."""
    names = sorted({str(r["sequence"]) for r in rows if r.get("level") == "sequence" and r["method"] == learned
                    and r.get("sigma") == sigma and r.get("sequence")})
    out = []
    for name in names:
        xb, xv, _ = curve(rows, method=anchor, sigma=sigma, metric=metric, reference=reference, sequence=name)
        lb, lv, _ = curve(rows, method=learned, sigma=sigma, metric=metric, reference=reference, sequence=name)
        if len(xb) < 2 or len(lb) < 2:
            continue
        mean, rng = matched_gap(xb, xv, lb, lv)
        out.append({
            "method": learned, "dataset": dataset, "sigma": sigma, "metric": "psnr_gap_db_at_matched_bpp",
            "reference": reference, "against": anchor, "of_metric": metric, "level": "sequence",
            "sequence": name, "interpolation": INTERPOLATION, "setting": f"sigma={sigma:g}",
            "rate_point": "overlap-mean", "value": mean, "bpp_lo": rng[0] if rng else math.nan,
            "bpp_hi": rng[1] if rng else math.nan, "note": "" if rng else "bpp ranges do not overlap",
        })
    return out
