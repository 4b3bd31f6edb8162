"""The main job: run every pipeline spec and its notebook, then say where everything is.

Prints, per spec, the results version folder, its figures and executed notebook, and a short
measured-vs-reported table. Smoke-profile values are labelled "pipeline check": they come from tiny
embedded clips and a few CPU training steps and are never a reproduction of the paper's numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from workbench.pipeline.runner import RunSummary, run_pipeline, takes_sequences


def _short_table(version_dir: Path, kind: str) -> str:
    comp = pd.read_csv(version_dir / "comparison.csv", dtype={"setting": str})
    comp = comp[comp["value_measured"].notna() & comp["value_reported"].notna()]
    if comp.empty:
        return "    (no measured row has a reported counterpart)"
    comp = comp[["method", "dataset_measured", "dataset", "setting", "metric", "value_measured", "value_reported"]]
    comp = comp.rename(columns={"value_measured": f"measured [{kind}]", "value_reported": "reported (paper)",
                                "dataset_measured": "measured on", "dataset": "paper dataset"})
    text = comp.head(12).to_string(index=False, float_format=lambda v: f"{v:.4g}")
    more = f"\n    … {len(comp) - 12} more rows in comparison.csv" if len(comp) > 12 else ""
    return "\n".join("    " + line for line in text.splitlines()) + more


def reproduce(specs: list[str], *, profile: str, data_root: Path | None, device: str,
              sequences: list[str] | None = None) -> list[RunSummary]:
    """Run ``specs`` in order; ``sequences`` limits the evaluation of the specs that evaluate sequences
    (the others run whole)."""
    t0 = time.time()
    summaries = [run_pipeline(s, profile, data_root=data_root, device=device,
                              sequences=sequences if sequences and takes_sequences(s, profile) else None)
                 for s in specs]
    print(f"\nncfl-workbench reproduce — profile {profile!r}, {time.time() - t0:.0f} s")
    for s in summaries:
        manifest = json.loads((s.version_dir / "manifest.json").read_text())
        kind = manifest["result_kind"]
        print(f"\n== {s.spec_id} ({manifest['title']}) — {kind}")
        print(f"  results:  {s.version_dir / 'measured.csv'}  (+ manifest.json, comparison.csv)")
        figs = sorted((s.version_dir / "figures").glob("*")) if (s.version_dir / "figures").is_dir() else []
        for f in figs:
            print(f"  figure:   {f}")
        nbs = sorted(s.version_dir.glob("*.ipynb"))
        for nb in nbs:
            print(f"  notebook: {nb}")
        print(f"  cells: ran {len(s.cells_run)}, reused {len(s.cells_reused)}")
        print(_short_table(s.version_dir, kind))
    if profile == "smoke":
        print("\nSmoke values are pipeline checks on embedded clips, NOT reproductions of the paper's numbers. "
              "Run `make reproduce PROFILE=full` on a GPU with the datasets for the paper protocol.")
    return summaries
