"""Run a pipeline spec: expand cells, reuse finished ones, publish a results version, run the notebook.

Cell cache: ``runs/cells/<kind>/<key>/`` with ``rows.csv`` and ``done.json`` written last (atomically).
The key hashes the kind, the typed params (minus display-only fields ``method`` and ``label``), the
code hash of ``workbench/`` + ``baselines/``, the source hash of a plugin model
(:func:`workbench.plugins.model_code_hash`) and the input checksums, so the same model trained for two
tables is trained once, and any change of config, code or data reruns the cell. ``work/`` keeps a
killed cell's checkpoints so the rerun resumes.

A version is staged and published atomically (:mod:`workbench.store.versions`); if any cell or the
notebook fails, nothing is left in ``results/``. Every input of every cell (datasets, checkpoints) and the
reported table are checked before the first cell runs; a cell that returns no row is an error, never a
cached success (no ``done.json``). Messages go to the ``workbench`` logger (``-q``/``-v`` of the CLI); on a
terminal the cells show a progress bar, otherwise one line per cell. Paths recorded in the manifest and
the rows are written with placeholders (:func:`workbench.provenance.portable`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from workbench import atomic, provenance
from workbench.config import config_hash, to_mapping
from workbench.context import RunContext
from workbench.errors import ConfigError, WorkbenchError
from workbench.evaluate.restoration import progress_wanted
from workbench.paths import runs_root
from workbench.pipeline import zoo
from workbench.pipeline.kinds import CELL_KINDS
from workbench.pipeline.spec import expand, load_spec, recipes_path
from workbench.plugins import models_code_hash
from workbench.report.notebook import run_notebook
from workbench.store import reported, versions

DISPLAY_FIELDS = ("method", "label")
log = logging.getLogger("workbench")


@dataclass
class RunSummary:
    spec_id: str
    profile: str
    version_dir: Path
    cells_run: list[str]
    cells_reused: list[str]
    seconds: float


def _key_params(params: Any) -> dict[str, Any]:
    data = to_mapping(params)
    return {k: v for k, v in data.items() if k not in DISPLAY_FIELDS}


def _plugin_code(params: Any) -> dict[str, str]:
    """``{model id: hash}`` of the user (plugin) code behind the cell's ``model`` / ``models``."""
    model = getattr(params, "model", None)
    ids = [model] if isinstance(model, str) else list(getattr(params, "models", None) or [])
    return models_code_hash(i for i in ids if isinstance(i, str))


def cell_key(kind_id: str, params: Any, inputs: dict[str, str]) -> str:
    """Hash of kind, key params, code and inputs; plugin models add their source files' hash, built-in
    models add nothing (so their keys do not move)."""
    plugin = _plugin_code(params)
    payload = json.dumps({"kind": kind_id, "params": _key_params(params), "code": provenance.code_hash(),
                          "inputs": inputs, **({"plugin_code": plugin} if plugin else {})},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def cell_inputs(spec_id: str, profile: str, name: str, kind_id: str, params: Any, *, data_root: Path | None,
                device: str) -> dict[str, str]:
    """Checksums of a cell's inputs; raises the input's one-line error when one is missing or unreadable."""
    kind = CELL_KINDS.get(kind_id)
    probe = RunContext(spec_id=spec_id, profile=profile, cell_name=name, work_dir=Path("."),
                       artifact_dir=Path("."), device=device, data_root=data_root)
    return kind.inputs(params, probe) if kind.inputs else {}


def run_cell(spec_id: str, profile: str, name: str, kind_id: str, params: Any, *, data_root: Path | None,
             device: str, inputs: dict[str, str] | None = None, zoo_dir: Path | None = None,
             retrain: bool = False) -> tuple[pd.DataFrame, dict[str, Any], bool]:
    """Run one cell (or reuse its finished run); ``retrain`` runs it again in a folder of its own, training
    its model from scratch, and never reuses it."""
    kind = CELL_KINDS.get(kind_id)
    if inputs is None:
        inputs = cell_inputs(spec_id, profile, name, kind_id, params, data_root=data_root, device=device)
    key = cell_key(kind_id, params, inputs)
    cell_dir = runs_root() / "cells" / kind_id / (key[:20] + ("-retrain" if retrain else ""))
    done, rows_path = cell_dir / "done.json", cell_dir / "rows.csv"
    reused = done.exists() and rows_path.exists() and not retrain
    if not reused:
        ctx = RunContext(spec_id=spec_id, profile=profile, cell_name=name, work_dir=cell_dir / "work",
                          artifact_dir=cell_dir / "artifacts", device=device, data_root=data_root,
                          input_checksums=dict(inputs), zoo_dir=zoo_dir, retrain=retrain)
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        if ctx.artifact_dir.exists():
            shutil.rmtree(ctx.artifact_dir)
        ctx.artifact_dir.mkdir(parents=True)
        t0 = time.time()
        log.info(f"[{spec_id}/{profile}] running cell {name} ({kind_id})")
        rows = kind.run(params, ctx)
        if not rows:  # never cache an empty cell as done: it would be reused as a success
            raise WorkbenchError(f"{spec_id}:{profile}:{name}: the cell produced no result rows; check its "
                                 "evaluation keys (sigmas, sequences, max_frames)")
        frame = pd.DataFrame(rows)
        atomic.write_text(rows_path, frame.to_csv(index=False))
        meta = {"cell": name, "kind": kind_id, "key": key, "params": to_mapping(params),
                "input_checksums": ctx.input_checksums, "notes": ctx.notes, "seconds": round(time.time() - t0, 2),
                "provenance": provenance.collect(device)}
        atomic.write_text(done, json.dumps(meta, indent=2, default=str))
    else:
        log.info(f"[{spec_id}/{profile}] reusing cell {name} ({key[:12]})")
    frame = pd.read_csv(rows_path, keep_default_na=False, na_values=[""])
    meta = json.loads(done.read_text())
    for f in DISPLAY_FIELDS:
        if f in frame.columns and dataclasses.is_dataclass(params) and hasattr(params, f):
            frame[f] = getattr(params, f) or getattr(params, "method", "")
    frame.insert(0, "cell", name)
    meta["artifact_dir"] = str(cell_dir / "artifacts")
    return frame, meta, reused


def takes_sequences(spec_id: str, profile: str) -> bool:
    """Whether ``spec_id``/``profile`` has a cell that evaluates sequences (``evaluate.sequences``)."""
    spec = load_spec(spec_id)
    return profile in spec.profiles and any(
        {**spec.profiles[profile].defaults, **c}.get("kind") == "restoration" for c in spec.profiles[profile].cells)


def with_sequences(overrides: dict[str, Any] | None, sequences: list[str] | None) -> dict[str, Any] | None:
    """``overrides`` with ``evaluate.sequences`` set to ``sequences`` (unchanged when none are given)."""
    if not sequences:
        return overrides
    out = dict(overrides or {})
    out["evaluate"] = {**(out.get("evaluate") or {}), "sequences": list(sequences)}
    return out


def _run_cells(spec_id: str, profile: str, cells: list[tuple[str, str, Any]], inputs: dict[str, dict[str, str]],
               *, data_root: Path | None, device: str, zoo_dir: Path | None = None, retrain: bool = False
               ) -> tuple[list[pd.DataFrame], list[dict[str, Any]], list[str], list[str]]:
    """Run or reuse every cell, in order: ``(row frames, cell metas, names run, names reused)``."""
    frames: list[pd.DataFrame] = []
    metas: list[dict[str, Any]] = []
    ran: list[str] = []
    reused: list[str] = []
    bar = tqdm(cells, desc=f"{spec_id}/{profile}", unit="cell", disable=not progress_wanted())
    for name, kind_id, params in bar:
        bar.set_postfix_str(name)
        frame, meta, was_reused = run_cell(spec_id, profile, name, kind_id, params, data_root=data_root,
                                           device=device, inputs=inputs[name], zoo_dir=zoo_dir, retrain=retrain)
        frames.append(frame)
        metas.append({**meta, "reused": was_reused})
        (reused if was_reused else ran).append(name)
    bar.close()
    return frames, metas, ran, reused


def portable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with this machine's paths replaced by placeholders in every text column (object or string
    dtype: pandas 3 stores text as ``str``, which ``dtype == object`` misses)."""
    def fix(col: pd.Series) -> pd.Series:
        text = pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
        return col.map(provenance.portable) if text else col

    return frame.apply(fix)


def run_pipeline(spec_id: str, profile: str, *, data_root: Path | None = None, device: str = "cpu",
                 overrides: dict[str, Any] | None = None, notebook: bool = True,
                 results_root: Path | None = None, sequences: list[str] | None = None,
                 retrain: bool = False) -> RunSummary:
    """Run every cell of ``spec_id``/``profile`` (``sequences``: evaluate only these sequences) and publish
    one results version; every input is checked before the first cell runs. A profile with ``zoo: true``
    takes its trained models from ``results/zoo/<profile>`` (:mod:`workbench.pipeline.zoo`) unless
    ``retrain``."""
    t0 = time.time()
    spec = load_spec(spec_id)
    if sequences and not takes_sequences(spec_id, profile):
        raise ConfigError(f"--sequences: {spec.id}/{profile} has no cell that evaluates sequences")
    overrides = with_sequences(overrides, sequences)
    cells = expand(spec, profile, overrides)
    prof = spec.profiles[profile]
    tables = prof.reported_tables or [spec.id]
    rep = reported.reported_for(tables)  # read before any work: a broken table stops the run here
    zoo_dir = zoo.zoo_root(profile, results_root) if prof.zoo else None
    if zoo_dir is not None:
        zoo.code_at_start()  # the code this process runs, recorded in every entry it publishes
    if zoo_dir is not None and not retrain:
        zoo.install_prior(zoo_dir)  # the zoo's frozen motion prior, so checking inputs does not retrain it
        if any((zoo_dir / zoo.SHARED).glob("spynet-*")) and not zoo.holds_current_prior(zoo_dir):
            zoo.warn(f"{zoo_dir / zoo.SHARED}: no motion prior under the current code's key; the models that "
                     "use it train it first (about 4 min); if its weights did not change, `workbench zoo prior "
                     f"--profile {profile}` files the zoo's copy under the new key")
    inputs = {name: cell_inputs(spec.id, profile, name, kind_id, params, data_root=data_root, device=device)
              for name, kind_id, params in cells}
    # a read-only or missing results root stops the run here, before any cell trains (the real staging
    # folder is made after the cells, so a run of days never holds one that `store gc` could take as stale)
    versions.discard_staging(versions.new_staging(spec.id, profile, results_root))
    frames, metas, ran, reused = _run_cells(spec.id, profile, cells, inputs, data_root=data_root, device=device,
                                            zoo_dir=zoo_dir, retrain=retrain)
    measured = pd.concat(frames, ignore_index=True)
    measured = portable_frame(measured)
    measured.insert(0, "profile", profile)
    measured.insert(0, "table", spec.id)
    measured["result_kind"] = prof.kind
    staging = versions.new_staging(spec.id, profile, results_root)
    try:
        atomic.write_text(staging / "measured.csv", measured.to_csv(index=False))
        atomic.write_text(staging / "reported.csv", rep.to_csv(index=False))
        comp = reported.join(measured, rep, dataset_map=prof.dataset_map, metric_map=prof.metric_map)
        comp["result_kind"] = comp["value_measured"].map(lambda v: prof.kind if pd.notna(v) else "")
        atomic.write_text(staging / "comparison.csv", comp.to_csv(index=False))
        for meta in metas:
            src = Path(meta["artifact_dir"])
            if src.is_dir() and any(src.iterdir()):
                shutil.copytree(src, staging / "artifacts" / meta["cell"])
        prov = provenance.collect(device)
        manifest = {"table": spec.id, "title": spec.title, "profile": profile, "result_kind": prof.kind,
                    "spec_path": spec.path, "spec_sha256": hashlib.sha256(Path(spec.path).read_bytes()).hexdigest(),
                    "recipes_sha256": hashlib.sha256(recipes_path().read_bytes()).hexdigest(),
                    "overrides": overrides or {}, "config_hash": config_hash([to_mapping(c[2]) for c in cells]),
                    "provenance": prov, "cells": metas, "reported_tables": tables,
                    "dataset_map": prof.dataset_map}
        atomic.write_text(staging / "manifest.json",
                          json.dumps(provenance.portable(manifest), indent=2, default=str))
        if notebook:
            # the notebook runs inside the version folder and refers to it as "." so the executed copy
            # stays valid after the folder is renamed into place
            run_notebook(spec.notebook, staging, {"version_dir": ".", "table_id": spec.id})
        target = versions.publish(staging, spec.id, profile, created_utc=str(prov["created_utc"]),
                                  git_commit=str(prov["git_commit"]), root=results_root)
    except BaseException:
        versions.discard_staging(staging)
        raise
    return RunSummary(spec.id, profile, target, ran, reused, time.time() - t0)
