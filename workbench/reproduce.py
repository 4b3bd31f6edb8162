"""The main job: run every pipeline spec and its notebook, then the report, and say where everything is.

Prints, per spec, the results version folder, its figures and executed notebook, and a short
measured-vs-reported table; then builds the profile's report version (:mod:`workbench.report.assemble`:
every table, the verdict on every claim, the zoo's training curves) and prints its path. A spec without
the requested profile is skipped, and said so. Smoke-profile values are labelled "pipeline check" (tiny
embedded clips, a few CPU training steps), mini values "mini evidence" (the committed zoo of reduced
models on the embedded mini split); neither is a reproduction of the paper's numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from workbench.pipeline import prefetch
from workbench.pipeline.runner import RunSummary, run_pipeline, takes_sequences
from workbench.pipeline.spec import load_spec
from workbench.report.assemble import TABLES, build_report


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


def with_profile(specs: list[str], profile: str) -> tuple[list[str], list[str]]:
    """``(specs that have the profile, specs that do not)``, in the given order."""
    have = [s for s in specs if profile in load_spec(s).profiles]
    return have, [s for s in specs if s not in have]


def reproduce(specs: list[str], *, profile: str, data_root: Path | None, device: str,
              sequences: list[str] | None = None, retrain: bool = False, report: bool = True,
              jobs: int = 1) -> list[RunSummary]:
    """Run ``specs`` in order (those without ``profile`` are skipped), then the report; ``sequences``
    limits the evaluation of the specs that evaluate sequences (the others run whole); ``retrain`` trains
    every model from scratch instead of taking it from the profile's zoo; ``jobs`` > 1 runs the cells
    ahead in that many worker processes, then publishes the specs in as many (:mod:`workbench.pipeline.prefetch`;
    on the CPU, not with ``retrain``); the printout keeps the order of ``specs``."""
    t0 = time.time()
    specs, skipped = with_profile(specs, profile)
    published: dict[str, RunSummary] = {}
    if jobs > 1 and not retrain and device.startswith("cpu"):  # a GPU runs one cell at a time
        tasks = prefetch.plan(specs, profile, data_root=data_root, device=device, sequences=sequences)
        failed = prefetch.warm(tasks, jobs=jobs, data_root=data_root, device=device)
        print(f"ran {len(tasks) - len(failed)} of {len(tasks)} cells ahead in {jobs} processes, "
              f"{time.time() - t0:.0f} s" + (f" (rerun below: {', '.join(failed)})" if failed else ""))
        published = prefetch.publish(specs, profile, jobs=jobs, data_root=data_root, device=device,
                                     sequences=sequences)
        print(f"published {len(published)} of {len(specs)} specs in {jobs} processes, {time.time() - t0:.0f} s")
    summaries = [published.get(s) or run_pipeline(
        s, profile, data_root=data_root, device=device, retrain=retrain,
        sequences=sequences if sequences and takes_sequences(s, profile) else None) for s in specs]
    wants_report = report and any(sm.spec_id in TABLES for sm in summaries)
    report_dir = build_report(profile) if wants_report else None
    print(f"\nncfl-workbench reproduce — profile {profile!r}, {time.time() - t0:.0f} s"
          + (" (every model retrained from scratch)" if retrain else ""))
    if skipped:
        print(f"  skipped (no {profile!r} profile): {', '.join(skipped)}")
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
    if report_dir is not None:
        print(f"\n== report: {report_dir}\n  notebook: {report_dir / 'report.ipynb'}\n  html:     "
              f"{report_dir / 'report.html'}\n  verdicts: {report_dir / 'verdicts.csv'}")
        print(_verdict_lines(report_dir))
    if profile == "smoke":
        print("\nSmoke values are pipeline checks on embedded clips, NOT reproductions of the paper's numbers. "
              "Run `make reproduce PROFILE=full` on a GPU with the datasets for the paper protocol.")
    if profile == "mini":
        print("\nMini values are small-scale CPU evidence (reduced models, embedded mini split), NOT "
              "reproductions of the paper's numbers.")
    return summaries


def _verdict_lines(report_dir: Path) -> str:
    path = report_dir / "verdicts.csv"
    if not path.is_file():
        return "    (no verdicts)"
    v = pd.read_csv(path)
    cols = [c for c in ("claim_id", "measured_difference", "ci_low", "ci_high", "verdict") if c in v.columns]
    text = v[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}")
    return "\n".join("    " + line for line in text.splitlines())
