"""Tables and figures for the restoration tables (1, 5, 6, 7, 8), from a results version only.

``render(version_dir, table_id)`` reads ``measured.csv`` and ``comparison.csv`` of the version and
writes into ``version_dir/figures/``:

- ``<table>.csv``: one row per (method, dataset, setting, metric) with the measured value, the reported
  value, their difference, and ``result_kind`` ("pipeline check" for smoke runs, which are never a
  reproduction of the paper's numbers);
- ``<table>.png``: Table 1 → PSNR against σ per method (measured solid, reported dashed); other tables
  → measured and reported PSNR per configuration side by side.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from workbench import atomic  # noqa: E402


def _sigma(setting: str) -> float:
    return float(str(setting).split("=")[1]) if str(setting).startswith("sigma=") else float("nan")


def comparison_table(version_dir: Path) -> pd.DataFrame:
    comp = pd.read_csv(version_dir / "comparison.csv", dtype={"setting": str})
    cols = ["method", "dataset", "dataset_measured", "setting", "metric", "value_measured", "value_reported",
            "difference", "result_kind", "source"]
    return comp[[c for c in cols if c in comp.columns]]


def render(version_dir: Path, table_id: str) -> list[Path]:
    version_dir = Path(version_dir)
    fig_dir = version_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    table = comparison_table(version_dir)
    csv_path = fig_dir / f"{table_id}.csv"
    atomic.write_text(csv_path, table.to_csv(index=False))
    psnr = table[table["metric"] == "psnr_db"].copy()
    png = fig_dir / f"{table_id}.png"
    fig, ax = plt.subplots(figsize=(7, 4.2))
    kind = next((k for k in psnr.get("result_kind", pd.Series(dtype=str)).dropna() if k), "measured")
    if table_id == "table1":
        psnr["sigma"] = psnr["setting"].map(_sigma)
        for i, (method, grp) in enumerate(psnr.groupby("method")):
            grp = grp.sort_values("sigma")
            color = f"C{i % 10}"
            m = grp.dropna(subset=["value_measured"])
            if len(m):
                ax.plot(m["sigma"], m["value_measured"], "o-", color=color, label=f"{method} (measured, {kind})")
            r = grp.dropna(subset=["value_reported"])
            if len(r):
                ax.plot(r["sigma"], r["value_reported"], "x--", color=color, alpha=0.6, label=f"{method} (reported)")
        ax.set_xlabel("noise σ (0–255 scale)")
    else:
        psnr = psnr.sort_values("method")
        x = range(len(psnr))
        ax.bar([i - 0.2 for i in x], psnr["value_measured"].fillna(0), width=0.4, label=f"measured ({kind})")
        ax.bar([i + 0.2 for i in x], psnr["value_reported"].fillna(0), width=0.4, label="reported (paper)")
        ax.set_xticks(list(x), [f"{m}\n{d}" for m, d in zip(psnr["method"], psnr["dataset"])], fontsize=7)
        lo = pd.concat([psnr["value_measured"], psnr["value_reported"]]).dropna()
        if len(lo):
            ax.set_ylim(max(0.0, lo.min() - 3), lo.max() + 1)
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{table_id}: measured vs reported")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic.atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return [csv_path, png]
