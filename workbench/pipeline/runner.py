"""Run a pipeline spec: expand cells, reuse finished ones, publish a results version, run the notebook.

Cell cache: ``runs/cells/<kind>/<key>/`` with ``rows.csv`` and ``done.json`` written last (atomically).
The key hashes the kind, the typed params (minus display-only fields ``method`` and ``label``), the
code hash of ``workbench/`` + ``baselines/``, the source hash of a plugin model
(:func:`workbench.plugins.model_code_hash`) and the input checksums, so the same model trained for two
tables is trained once, and any change of config, code or data reruns the cell. ``work/`` keeps a
killed cell's checkpoints so the rerun resumes.

A version is staged and published atomically (:mod:`workbench.store.versions`); if any cell or the
notebook fails, nothing is left in ``results/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import atomic, provenance
from workbench.config import config_hash, to_mapping
from workbench.context import RunContext
from workbench.paths import runs_root
from workbench.pipeline.kinds import CELL_KINDS
from workbench.pipeline.spec import expand, load_spec, recipes_path
from workbench.plugins import models_code_hash
from workbench.report.notebook import run_notebook
from workbench.store import reported, versions

DISPLAY_FIELDS = ("method", "label")


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


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_cell(spec_id: str, profile: str, name: str, kind_id: str, params: Any, *, data_root: Path | None,
             device: str) -> tuple[pd.DataFrame, dict[str, Any], bool]:
    kind = CELL_KINDS.get(kind_id)
    probe = RunContext(spec_id=spec_id, profile=profile, cell_name=name, work_dir=Path("."),
                        artifact_dir=Path("."), device=device, data_root=data_root)
    inputs = kind.inputs(params, probe) if kind.inputs else {}
    key = cell_key(kind_id, params, inputs)
    cell_dir = runs_root() / "cells" / kind_id / key[:20]
    done, rows_path = cell_dir / "done.json", cell_dir / "rows.csv"
    reused = done.exists() and rows_path.exists()
    if not reused:
        ctx = RunContext(spec_id=spec_id, profile=profile, cell_name=name, work_dir=cell_dir / "work",
                          artifact_dir=cell_dir / "artifacts", device=device, data_root=data_root,
                          input_checksums=dict(inputs))
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        if ctx.artifact_dir.exists():
            shutil.rmtree(ctx.artifact_dir)
        ctx.artifact_dir.mkdir(parents=True)
        t0 = time.time()
        _log(f"[{spec_id}/{profile}] running cell {name} ({kind_id})")
        rows = kind.run(params, ctx)
        frame = pd.DataFrame(rows)
        atomic.write_text(rows_path, frame.to_csv(index=False))
        meta = {"cell": name, "kind": kind_id, "key": key, "params": to_mapping(params),
                "input_checksums": ctx.input_checksums, "notes": ctx.notes, "seconds": round(time.time() - t0, 2),
                "provenance": provenance.collect(device)}
        atomic.write_text(done, json.dumps(meta, indent=2, default=str))
    else:
        _log(f"[{spec_id}/{profile}] reusing cell {name} ({key[:12]})")
    frame = pd.read_csv(rows_path, keep_default_na=False, na_values=[""])
    meta = json.loads(done.read_text())
    for f in DISPLAY_FIELDS:
        if f in frame.columns and dataclasses.is_dataclass(params) and hasattr(params, f):
            frame[f] = getattr(params, f) or getattr(params, "method", "")
    frame.insert(0, "cell", name)
    meta["artifact_dir"] = str(cell_dir / "artifacts")
    return frame, meta, reused


def run_pipeline(spec_id: str, profile: str, *, data_root: Path | None = None, device: str = "cpu",
                 overrides: dict[str, Any] | None = None, notebook: bool = True,
                 results_root: Path | None = None) -> RunSummary:
    t0 = time.time()
    spec = load_spec(spec_id)
    cells = expand(spec, profile, overrides)
    prof = spec.profiles[profile]
    frames: list[pd.DataFrame] = []
    metas: list[dict[str, Any]] = []
    ran: list[str] = []
    reused: list[str] = []
    for name, kind_id, params in cells:
        frame, meta, was_reused = run_cell(spec.id, profile, name, kind_id, params, data_root=data_root,
                                           device=device)
        frames.append(frame)
        metas.append({**meta, "reused": was_reused})
        (reused if was_reused else ran).append(name)
    measured = pd.concat(frames, ignore_index=True)
    measured.insert(0, "profile", profile)
    measured.insert(0, "table", spec.id)
    measured["result_kind"] = prof.kind
    staging = versions.new_staging(spec.id, profile, results_root)
    try:
        atomic.write_text(staging / "measured.csv", measured.to_csv(index=False))
        tables = prof.reported_tables or [spec.id]
        rep = reported.reported_for(tables)
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
        atomic.write_text(staging / "manifest.json", json.dumps(manifest, indent=2, default=str))
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
