"""``workbench eval``: one model (zoo id or plugin) with a checkpoint, under a table's protocol and profile.

The model is evaluated by a ``restoration`` cell without training, whose ``evaluate`` section is the table's
own (the first restoration cell of ``pipelines/<table>.yaml`` for that profile, with ``overrides`` merged
over it and recorded), so it is cached like any cell (checkpoint checksum and plugin code in the key).
The published version ``results/<table>/<profile>/vNNNN`` holds this model's rows, the workbench's own rows
of the latest published version of that table and profile (column ``row_source`` says which version; rows
of the evaluated method's name are left out, so a method named after a paper row replaces the workbench's), and
the comparison with the paper's reported numbers. ``save_frames`` writes the restored frames as 8-bit PNG:
``<dir>/sigma<σ>/<sequence>/<t:05d>.png``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from workbench import atomic, provenance
from workbench.checkpoint_formats import CheckpointRef, load_checkpoint
from workbench.config import from_mapping, merge, to_mapping
from workbench.data.catalog import open_dataset
from workbench.degrade.awgn import add_awgn_frame, noise_seed
from workbench.errors import ConfigError
from workbench.evaluate.infer import restore_stream
from workbench.evaluate.restoration import EvalSpec
from workbench.models.base import RestorationModel
from workbench.pipeline.restoration import RestorationCell
from workbench.pipeline.runner import run_cell
from workbench.pipeline.spec import PipelineSpec, expand, load_spec
from workbench.report.notebook import run_notebook
from workbench.store import reported, versions
from workbench.zoo import build_model


@dataclass
class EvalSummary:
    version_dir: Path
    reused: bool
    frames_dir: Path | None


def table_protocol(spec: PipelineSpec, profile: str) -> EvalSpec:
    """The evaluation section of the first restoration cell of ``spec``'s ``profile``."""
    for _, kind, params in expand(spec, profile):
        if kind == "restoration":
            return params.evaluate  # type: ignore[no-any-return]
    raise ConfigError(f"{spec.path}: profile {profile!r} has no restoration cell, so no restoration protocol "
                      "to evaluate under; pick a table such as table1")


def eval_cell(model_id: str, spec: PipelineSpec, profile: str, *, checkpoint: CheckpointRef | None,
              model_args: dict[str, Any] | None = None, method: str | None = None,
              overrides: dict[str, Any] | None = None) -> RestorationCell:
    """The untrained restoration cell that evaluates ``model_id`` under ``spec``'s protocol."""
    protocol = to_mapping(table_protocol(spec, profile))
    evaluate = from_mapping(EvalSpec, merge(protocol, overrides or {}), where="eval --set evaluate")
    name = method or model_id
    return RestorationCell(method=name, model=model_id, model_args=dict(model_args or {}), train=None,
                           checkpoint=checkpoint, evaluate=evaluate, label=name, seed=0)


def _workbench_rows(table: str, profile: str, method: str, root: Path | None) -> tuple[pd.DataFrame, str]:
    latest = versions.latest_version(table, profile, root)
    if latest is None or not (latest / "measured.csv").is_file():
        return pd.DataFrame(), ""
    rows = pd.read_csv(latest / "measured.csv", keep_default_na=False, na_values=[""])
    source = f"{table}/{profile}/{latest.name}"
    rows = rows[rows["method"] != method].copy()
    rows["row_source"] = source
    return rows, source


def save_frames(model: RestorationModel, cell: RestorationCell, out_dir: Path, *, data_root: Path | None,
                device: str) -> Path:
    """Restore the cell's noisy sequences again and write every output frame as an 8-bit PNG."""
    spec = cell.evaluate
    seqs = open_dataset(spec.dataset, root=data_root, max_frames=spec.max_frames, max_sequences=spec.max_sequences)
    model.to(device)
    for sigma in spec.sigmas:
        for seq in seqs:
            seed = noise_seed(spec.dataset, seq.name, sigma)

            def noisy(i: int, s: Any = seq, sd: int = seed, sg: float = sigma) -> np.ndarray:
                return add_awgn_frame(s.frame(i), sg, sd, i)

            folder = out_dir / f"sigma{sigma:g}" / seq.name
            folder.mkdir(parents=True, exist_ok=True)
            for t, frame in restore_stream(model, noisy, len(seq), noise_sigma=sigma if model.uses_noise_map
                                           else None, device=device, chunk_len=spec.chunk_len,
                                           chunk_overlap=spec.chunk_overlap):
                img = np.round(np.clip(frame[..., :3], 0.0, 1.0) * 255.0).astype(np.uint8)
                Image.fromarray(img).save(folder / f"{t:05d}.png")
    return out_dir


def evaluate_checkpoint(model_id: str, *, table: str = "table1", profile: str = "smoke",
                        checkpoint: str | Path | None = None, fmt: str = "plain",
                        model_args: dict[str, Any] | None = None, method: str | None = None,
                        overrides: dict[str, Any] | None = None, device: str = "cpu",
                        data_root: Path | None = None, frames_dir: Path | None = None, notebook: bool = False,
                        results_root: Path | None = None) -> EvalSummary:
    """Evaluate ``model_id`` (with ``checkpoint`` of format ``fmt``) under ``table``'s protocol and
    publish a version of ``table``/``profile`` (see the module docstring)."""
    spec = load_spec(table)
    ref = None if checkpoint is None else from_mapping(CheckpointRef, {"path": str(checkpoint), "format": fmt},
                                                       where="--checkpoint/--format")
    cell = eval_cell(model_id, spec, profile, checkpoint=ref, model_args=model_args, method=method,
                     overrides=overrides)
    name = f"eval-{cell.method}"
    frame, meta, reused = run_cell(spec.id, profile, name, "restoration", cell, data_root=data_root, device=device)
    frame["row_source"] = "this version (workbench eval)"
    own, source = _workbench_rows(spec.id, profile, cell.method, results_root)
    measured = pd.concat([own.drop(columns=["table", "profile", "result_kind"], errors="ignore"), frame],
                         ignore_index=True)
    prof = spec.profiles[profile]
    measured.insert(0, "profile", profile)
    measured.insert(0, "table", spec.id)
    measured["result_kind"] = prof.kind
    out_frames = None
    if frames_dir is not None:
        model = build_model(model_id, cell.model_args, seed=cell.seed, where=f"eval {model_id}")
        if ref is not None:
            load_checkpoint(model_id, model, ref)
        out_frames = save_frames(model, cell, Path(frames_dir), data_root=data_root, device=device)
    target = _publish(spec, profile, measured, cell, {**meta, "reused": reused}, source, device, overrides,
                      notebook, results_root)
    return EvalSummary(target, reused, out_frames)


def _publish(spec: PipelineSpec, profile: str, measured: pd.DataFrame, cell: RestorationCell,
             meta: dict[str, Any], source: str, device: str, overrides: dict[str, Any] | None, notebook: bool,
             results_root: Path | None) -> Path:
    prof = spec.profiles[profile]
    staging = versions.new_staging(spec.id, profile, results_root)
    try:
        atomic.write_text(staging / "measured.csv", measured.to_csv(index=False))
        tables = prof.reported_tables or [spec.id]
        rep = reported.reported_for(tables)
        atomic.write_text(staging / "reported.csv", rep.to_csv(index=False))
        comp = reported.join(measured, rep, dataset_map=prof.dataset_map, metric_map=prof.metric_map)
        comp["result_kind"] = comp["value_measured"].map(lambda v: prof.kind if pd.notna(v) else "")
        atomic.write_text(staging / "comparison.csv", comp.to_csv(index=False))
        prov = provenance.collect(device)
        manifest = {"table": spec.id, "title": spec.title, "profile": profile, "result_kind": prof.kind,
                    "spec_path": spec.path, "spec_sha256": hashlib.sha256(Path(spec.path).read_bytes()).hexdigest(),
                    "overrides": {"evaluate": overrides} if overrides else {},
                    "eval": {"model": cell.model, "method": cell.method, "model_args": cell.model_args,
                             "checkpoint": to_mapping(cell.checkpoint), "workbench_rows_from": source or None},
                    "provenance": prov, "cells": [meta], "reported_tables": tables, "dataset_map": prof.dataset_map}
        atomic.write_text(staging / "manifest.json", json.dumps(manifest, indent=2, default=str))
        if notebook:
            run_notebook(spec.notebook, staging, {"version_dir": ".", "table_id": spec.id})
        ckpt = Path(cell.checkpoint.path).name if isinstance(cell.checkpoint, CheckpointRef) else "no checkpoint"
        return versions.publish(staging, spec.id, profile, created_utc=str(prov["created_utc"]),
                                git_commit=str(prov["git_commit"]), root=results_root,
                                note=f"workbench eval {cell.method} ({ckpt})")
    except BaseException:
        versions.discard_staging(staging)
        raise


__all__ = ["EvalSummary", "eval_cell", "evaluate_checkpoint", "save_frames", "table_protocol"]

