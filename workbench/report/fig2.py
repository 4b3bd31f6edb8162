"""Fig. 2 (paper §3): x265 and a learned codec compressing a noisy clip (AWGN σ = 20), from a results
version only.

``render(version_dir)`` reads ``version_dir/measured.csv`` (rows of the ``codec_study`` cells) and the crops in
``version_dir/artifacts/<cell>/crops/`` and writes into ``version_dir/figures/``:

- ``fig2.pdf`` and 300-dpi ``fig2.png`` (text width; per σ a row of plots over a row of crops): PSNR
  against the clean clip vs bpp (both codecs, with the noisy input as a line), PSNR against the noisy
  input vs bpp (one shared legend above the plots), and image crops — clean, noisy, x265 and learned at matched bpp
  (the x265 point whose bpp is nearest in log to a learned point), and x265 at its highest rate;
- ``fig2.csv``: the plotted dataset-level points and the matched-bpp gap rows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import imageio.v3 as iio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from workbench import atomic  # noqa: E402
from workbench.evaluate.fig2.curves import matched_gap  # noqa: E402
from workbench.report.figures import TEXT_WIDTH_IN, paper_style, save_figure  # noqa: E402

CODECS = {"x265": ("x265", "C0", "s-"), "learned-hyperprior": ("learned hyperprior", "C3", "o-")}
GAP = "psnr_gap_db_at_matched_bpp"


def _rows(version_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(version_dir / "measured.csv", dtype={"setting": str, "rate_point": str, "reference": str})
    if "table" in df.columns:
        df = df[df["table"].astype(str) == "fig2"]
    df = df[df["method"].isin([*CODECS, "noisy-input"]) & (df.get("level", "dataset") == "dataset")].copy()
    df["reference"] = df["reference"].fillna("")
    return df


def _curve(df: pd.DataFrame, method: str, sigma: float, reference: str) -> pd.DataFrame:
    sel = df[(df["method"] == method) & (df["sigma"] == sigma)]
    bpp = sel[sel["metric"] == "bpp"].set_index("rate_point")["value"]
    psnr = sel[(sel["metric"] == "psnr_db") & (sel["reference"] == reference)].set_index("rate_point")["value"]
    out = pd.DataFrame({"bpp": bpp, "psnr_db": psnr}).dropna().sort_values("bpp")
    return out.reset_index().rename(columns={"index": "rate_point"})


def _crops(version_dir: Path) -> tuple[dict[str, Path], list[dict[str, Any]]]:
    refs: dict[str, Path] = {}
    entries: list[dict[str, Any]] = []
    for index in sorted((version_dir / "artifacts").glob("*/crops/crops.json")):
        data = json.loads(index.read_text())
        for e in data["crops"]:
            path = index.parent / e["file"]
            if e["kind"] == "codec":
                entries.append({**e, "path": path})
            else:
                refs.setdefault(e["file"].removesuffix(".png"), path)
    return refs, entries


def matched_pair(entries: list[dict[str, Any]], sigma: float) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (x265, learned) crops of σ whose bpp are nearest in log(bpp)."""
    xs = [e for e in entries if e["method"] == "x265" and e["sigma"] == sigma]
    ls = [e for e in entries if e["method"] == "learned-hyperprior" and e["sigma"] == sigma]
    pairs = [(abs(math.log(x["bpp"] / lrn["bpp"])), x, lrn) for x in xs for lrn in ls]
    if not pairs:
        return None
    _, x, lrn = min(pairs, key=lambda p: p[0])
    return x, lrn


def _gap(df: pd.DataFrame, sigma: float) -> float:
    g = df[(df["metric"] == GAP) & (df["sigma"] == sigma) & (df["reference"] == "clean")
           & (df["rate_point"] == "overlap-mean")]
    if len(g):
        return float(g["value"].iloc[0])
    x, lrn = _curve(df, "x265", sigma, "clean"), _curve(df, "learned-hyperprior", sigma, "clean")
    if len(x) < 2 or len(lrn) < 2:
        return math.nan
    return matched_gap(list(x["bpp"]), list(x["psnr_db"]), list(lrn["bpp"]), list(lrn["psnr_db"]))[0]


def render(version_dir: Path) -> list[Path]:
    """Draw Fig. 2 from ``version_dir``; returns the written files (PDF, 300-dpi PNG, CSV)."""
    version_dir = Path(version_dir)
    fig_dir = version_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    df = _rows(version_dir)
    sigmas = sorted(df.loc[df["method"].isin(list(CODECS)), "sigma"].dropna().unique())
    refs, entries = _crops(version_dir)
    table: list[dict[Any, Any]] = []
    with paper_style():
        # per σ two rows at text width: the two rate–distortion plots, then the five crops
        n = max(1, len(sigmas))
        fig = plt.figure(figsize=(TEXT_WIDTH_IN, 3.6 * n))
        grid = fig.add_gridspec(2 * n, 10, height_ratios=[1.4, 1.0] * n)
        for i, sigma in enumerate(sigmas):
            plots = [fig.add_subplot(grid[2 * i, 0:5]), fig.add_subplot(grid[2 * i, 5:10])]
            crops = [fig.add_subplot(grid[2 * i + 1, 2 * k:2 * k + 2]) for k in range(5)]
            for ax, ref in zip(plots, ("clean", "noisy")):
                for method, (label, color, style) in CODECS.items():
                    c = _curve(df, method, sigma, ref)
                    if len(c):
                        ax.plot(c["bpp"], c["psnr_db"], style, color=color, label=label)
                        table += [{"sigma": sigma, "method": method, "reference": ref, **r}
                                  for r in c.to_dict("records")]
                anchor = df[(df["method"] == "noisy-input") & (df["sigma"] == sigma) & (df["metric"] == "psnr_db")]
                if ref == "clean" and len(anchor):
                    ax.axhline(float(anchor["value"].iloc[0]), color="gray", ls=":", label="noisy input")
                ax.set_xscale("log")
                ax.set_xlabel("rate (bpp, real bitstream; log scale)")
                ax.set_ylabel(f"PSNR to {ref} (dB)")
                ax.grid(alpha=0.3)
            gap = _gap(df, sigma)
            plots[0].set_title(f"σ = {sigma:g}, to clean: learned − x265 at matched bpp = {gap:+.2f} dB")
            plots[1].set_title(f"σ = {sigma:g}, to the 8-bit noisy input")
            panels: list[tuple[Path | None, str]] = [(refs.get("clean"), "clean"),
                                                     (refs.get(f"noisy-sigma{sigma:g}"), f"noisy σ = {sigma:g}")]
            pair = matched_pair(entries, sigma)
            xs = sorted((e for e in entries if e["method"] == "x265" and e["sigma"] == sigma),
                        key=lambda e: e["bpp"])
            for e in ([*pair] if pair else []) + xs[-1:]:
                name = CODECS.get(e["method"], (e["method"],))[0]
                panels.append((e["path"], f"{name}, {e['rate_point']}\n{e['bpp']:.3f} bpp, {e['psnr_db']:.2f} dB"))
            for ax, (path, title) in zip(crops, panels + [(None, "")] * 5):
                ax.axis("off")
                if path is not None and path.is_file():
                    ax.imshow(iio.imread(path), interpolation="nearest")
                    ax.set_title(title, fontsize=5.5)
        fig.tight_layout()
        handles: dict[str, Any] = {}
        for ax in fig.axes:
            for h, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, h)
        if handles:  # one legend for every plot, above them (outside the data)
            fig.legend(list(handles.values()), list(handles), loc="lower center", bbox_to_anchor=(0.5, 1.0),
                       ncol=len(handles), frameon=False)
        written = save_figure(fig, fig_dir / "fig2")
    gaps = df[df["metric"] == GAP][["sigma", "method", "reference", "rate_point", "value"]].rename(
        columns={"value": GAP})
    csv = fig_dir / "fig2.csv"
    atomic.write_text(csv, pd.concat([pd.DataFrame(table), gaps], ignore_index=True).to_csv(index=False))
    return [*written, csv]
