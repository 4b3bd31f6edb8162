"""``workbench report --profile P``: one report version from the newest published results of a profile.

Inputs (read, never modified): the newest version ``results/<spec>/<P>/vNNNN`` of every spec that has one,
and the profile's model zoo ``results/zoo/<P>`` when there is one. Output: a new version
``results/report/<P>/vNNNN`` holding

- ``tables.csv``: every denoising-table row measured beside reported (mean over seeds and sequences of the
  dataset-level values, ``n_seeds``, the reported value, the difference, the profile's result kind);
- ``verdicts.csv``: one row per claim of the registry (:mod:`workbench.report.claims`): the paper's
  difference, the measured one, its 95 % interval, seeds, sequences, verdict;
- ``zoo.csv`` and ``zoo_curves.csv``: the zoo's entries (model, seed, steps, wall time, final losses) and
  their training logs;
- ``sources.csv``: which version of which spec the report read (path, commit, kind);
- ``figures/``: the training curves (PDF + 300-dpi PNG) and the figures of the analysed versions;
- ``report.ipynb`` (executed with papermill) and ``report.html`` (nbconvert), and ``manifest.json``.

Every number is copied or aggregated from the versions named in ``sources.csv``; the paper's numbers come
from the package's reported table only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import atomic, provenance
from workbench.errors import ConfigError
from workbench.paths import results_root
from workbench.report import claims
from workbench.report.notebook import run_notebook
from workbench.store import reported, versions

REPORT_ID = "report"
#: the denoising tables assembled into ``tables.csv`` and read by the claims
TABLES = ("table1", "table2", "table3", "table4", "table5", "table6", "table7", "table8")
#: specs whose figures are copied into the report when the profile has a version of them
FIGURE_SPECS = ("fig2", "fig1c", "fig4", "fig6", "fig7", "table1", "table5", "table6", "table7", "table8")


def newest_versions(profile: str, root: Path) -> dict[str, Path]:
    """``{spec: newest version folder}`` for every spec published under ``profile`` (the report excluded)."""
    out: dict[str, Path] = {}
    for spec_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if spec_dir.name in (REPORT_ID, "zoo"):
            continue
        latest = versions.latest_version(spec_dir.name, profile, root)
        if latest is not None:
            out[spec_dir.name] = latest
    return out


def _sources(found: dict[str, Path]) -> pd.DataFrame:
    rows = []
    for spec, folder in found.items():
        manifest = json.loads((folder / "manifest.json").read_text())
        rows.append({"spec": spec, "version": folder.name, "path": str(folder),
                     "result_kind": manifest.get("result_kind", ""),
                     "git_commit": manifest.get("git_commit", manifest.get("provenance", {}).get("git_commit", "")),
                     "created_utc": manifest.get("created_utc", "")})
    return pd.DataFrame(rows)


def _read_measured(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "measured.csv", keep_default_na=False, na_values=[""], dtype={"setting": str})


def paper_datasets(measured: pd.DataFrame, dataset_map: dict[str, str]) -> pd.DataFrame:
    """``measured`` with its ``dataset`` column renamed to the paper's datasets the run stands in for (the
    version's ``dataset_map``), so a claim about one column of a table with several (Table 3's two rain sets,
    Table 7's four degradations) reads that column's rows only."""
    if "dataset" not in measured.columns or not dataset_map:
        return measured
    return measured.assign(dataset=measured["dataset"].map(lambda v: dataset_map.get(v, v)))


def table_rows(measured: pd.DataFrame, rep: pd.DataFrame, dataset_map: dict[str, str]) -> pd.DataFrame:
    """Dataset-level values averaged over seeds, beside the paper's (joined on method, setting, metric)."""
    d = measured[measured["level"] == "dataset"]
    if d.empty:
        return pd.DataFrame()
    keys = ["table", "method", "label", "dataset", "setting", "metric"]
    agg = (d.groupby(keys, dropna=False, sort=False)["value"]
           .agg(measured="mean", measured_sd="std", n_seeds="count").reset_index())
    agg["paper_dataset"] = agg["dataset"].map(lambda v: dataset_map.get(v, v))
    r = rep.rename(columns={"value_reported": "reported", "dataset": "paper_dataset"})[
        ["table", "method", "paper_dataset", "setting", "metric", "reported"]]
    out = agg.merge(r, on=["table", "method", "paper_dataset", "setting", "metric"], how="left")
    out["difference"] = out["measured"] - out["reported"]
    noisy = agg[agg["method"] == "noisy-input"].set_index(["setting", "metric"])["measured"]
    out["gain_over_noisy"] = [m - noisy.get((s, k), float("nan")) for m, s, k in
                              zip(out["measured"], out["setting"], out["metric"], strict=True)]
    return out


def _zoo_frames(zoo_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    entries, curves = [], []
    for path in sorted(zoo_dir.glob("*/manifest.json")):
        m = json.loads(path.read_text())
        last = m.get("last_log", {})
        entries.append({"entry": m["entry"], "model": m["model"], "seed": m["seed"],
                        "args": json.dumps(m.get("model_args", {}), sort_keys=True),
                        "steps": m.get("steps"), "wall_s": m.get("wall_s"), "params": m.get("params"),
                        "final_loss": last.get("loss"), "final_l2": last.get("l2"),
                        "zero_bin_share": last.get("zero_bin_share"), "bpp": last.get("bpp"),
                        "code_commit": m.get("code_commit"), "config_hash": m.get("config_hash"),
                        "torch": m.get("torch"), "threads": m.get("threads")})
        log = path.parent / "loss.csv"
        if log.is_file():
            c = pd.read_csv(log)
            c.insert(0, "entry", m["entry"])
            c.insert(1, "model", m["model"])
            curves.append(c)
    return pd.DataFrame(entries), (pd.concat(curves, ignore_index=True) if curves else pd.DataFrame())


def _copy_figures(found: dict[str, Path], staging: Path) -> list[str]:
    copied = []
    for spec in FIGURE_SPECS:
        folder = found.get(spec)
        figs = folder / "figures" if folder else None
        if figs is None or not figs.is_dir():
            continue
        for f in sorted(figs.glob("*.png")):
            target = staging / "figures" / spec / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            copied.append(str(target.relative_to(staging)))
    return copied


def assemble(staging: Path, profile: str, root: Path) -> dict[str, Any]:
    """Write the report's CSVs and figures into ``staging``; return the manifest fields."""
    found = newest_versions(profile, root)
    if not any(t in found for t in TABLES):
        raise ConfigError(f"{root}: no published version of {', '.join(TABLES)} in profile {profile!r}; "
                          f"run `workbench reproduce --profile {profile}` first")
    sources = _sources(found)
    atomic.write_text(staging / "sources.csv", sources.to_csv(index=False))
    rep = reported.reported_for(list(TABLES))
    measured: dict[str, pd.DataFrame] = {t: _read_measured(found[t]) for t in TABLES if t in found}
    if "fig2" in found:
        measured["fig2"] = _read_measured(found["fig2"])
    tables = []
    by_paper_dataset = dict(measured)
    for t in TABLES:
        if t in measured:
            manifest = json.loads((found[t] / "manifest.json").read_text())
            rows = table_rows(measured[t], rep, manifest.get("dataset_map", {}))
            rows["result_kind"] = manifest.get("result_kind", "")
            tables.append(rows)
            by_paper_dataset[t] = paper_datasets(measured[t], manifest.get("dataset_map", {}))
    atomic.write_text(staging / "tables.csv", pd.concat(tables, ignore_index=True).to_csv(index=False))
    verdicts = claims.evaluate_claims(claims.load_claims(), by_paper_dataset, rep, profile=profile)
    atomic.write_text(staging / "verdicts.csv", verdicts.to_csv(index=False))
    zoo_dir = root / "zoo" / profile
    entries, curves = _zoo_frames(zoo_dir) if zoo_dir.is_dir() else (pd.DataFrame(), pd.DataFrame())
    atomic.write_text(staging / "zoo.csv", entries.to_csv(index=False))
    atomic.write_text(staging / "zoo_curves.csv", curves.to_csv(index=False))
    figures = _copy_figures(found, staging)
    kinds = sorted(set(sources["result_kind"]))
    return {"table": REPORT_ID, "title": f"Report: every table, claim and figure of profile {profile!r}",
            "profile": profile, "result_kind": " / ".join(kinds), "sources": sources.to_dict("records"),
            "figures_copied": figures, "zoo": str(zoo_dir) if zoo_dir.is_dir() else None,
            "n_claims": int(len(verdicts))}


def export_html(notebook: Path) -> Path:
    """``<notebook>.html`` beside the executed notebook (nbconvert's HTML exporter, inputs shown)."""
    import nbformat  # lazy: slow imports, only the report needs them
    from nbconvert import HTMLExporter  # lazy: as above

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(notebook), as_version=4))
    out = notebook.with_suffix(".html")
    atomic.write_text(out, body)
    return out


def build_report(profile: str, *, root: Path | None = None, notebook: bool = True) -> Path:
    """Assemble, execute ``notebooks/report.ipynb`` in the staging folder, export HTML, publish; returns
    the published version folder."""
    root = root or results_root()
    staging = versions.new_staging(REPORT_ID, profile, root)
    try:
        fields = assemble(staging, profile, root)
        prov = provenance.collect("cpu")
        manifest = {**fields, "provenance": prov}
        atomic.write_text(staging / "manifest.json", json.dumps(provenance.portable(manifest), indent=2, default=str))
        if notebook:
            executed = run_notebook(REPORT_ID, staging, {"version_dir": ".", "profile": profile})
            export_html(executed)
        return versions.publish(staging, REPORT_ID, profile, created_utc=str(prov["created_utc"]),
                                git_commit=str(prov["git_commit"]), root=root)
    except BaseException:
        versions.discard_staging(staging)
        raise


def training_curves_figure(curves: pd.DataFrame, stem: Path) -> list[Path]:
    """Small multiples, one panel per model id: training L2 loss (log scale) against step, one line per
    zoo entry (arguments and seeds); saved as ``<stem>.pdf`` and ``<stem>.png``."""
    from workbench.report.figures import TEXT_WIDTH_IN, paper_style, plt, save_figure  # lazy: matplotlib

    if curves.empty:
        return []
    models = sorted(curves["model"].unique())
    cols = min(4, len(models))
    rows = -(-len(models) // cols)
    with paper_style():
        fig, axes = plt.subplots(rows, cols, figsize=(TEXT_WIDTH_IN, 1.5 * rows), squeeze=False)
        for ax, model in zip(axes.flat, models, strict=False):
            for entry, c in curves[curves["model"] == model].groupby("entry"):
                ax.plot(c["step"], c["l2"], label=str(entry).removeprefix(f"{model}-"), linewidth=0.7)
            ax.set_yscale("log")
            ax.set_title(model)
            ax.set_xlabel("step")
            ax.set_ylabel("training L2 (per pixel, [0,1] scale)")
        for ax in list(axes.flat)[len(models):]:
            ax.axis("off")
        fig.tight_layout()
        return save_figure(fig, stem)
