"""The ``restoration`` cell kind: train (or load) one model, then evaluate it on a dataset at each σ.

Evaluation is :func:`workbench.evaluate.restoration.evaluate_model` (rows and protocol card described
there). Training runs are cached by (model, args, seed, init checkpoint, recipe, code, training data), not
by cell (:func:`train_dir`; a plugin model's source files are part of the key), so cells that only differ
in evaluation (σ list, frames) — and identical rows of different tables — share one trained model.

:func:`train_only` is the training half alone, run on every rank of a data-parallel job by a cluster
executor (:mod:`workbench.pipeline.executors`); rank 0 records the run's parallelism in
``runs/train/<...>/distributed.json`` and the cell's notes carry it (``train.distributed``) into the manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench import atomic, provenance
from workbench.checkpoint import load_weights
from workbench.checkpoint_formats import CheckpointRef, as_ref, load_checkpoint
from workbench.config import config_hash, to_mapping
from workbench.context import RunContext
from workbench.data.catalog import dataset_checksums, dataset_size, open_dataset
from workbench.data.sequence import Sequence
from workbench.errors import CheckpointError
from workbench.evaluate.restoration import EvalSpec, evaluate_model, progress_wanted, subset_columns
from workbench.locks import file_lock
from workbench.pipeline.cells import CellKind
from workbench.plugins import model_code_hash
from workbench.train.distributed import DistInfo, describe, rank_device
from workbench.train.loop import last_log_row, train
from workbench.train.motion import init_motion, motion_weights, sha256_of
from workbench.train.run import train_run_dir
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model


@dataclass
class RestorationCell:
    method: str
    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    train: TrainSpec | None = None
    #: weights loaded before training/evaluation: a plain state-dict file, or ``{path: FILE, format: basicsr}``
    #: (formats: :data:`workbench.checkpoint_formats.FORMATS`)
    checkpoint: str | CheckpointRef | None = None
    evaluate: EvalSpec = field(default_factory=EvalSpec)
    label: str = ""
    seed: int = 0


def _open(name: str, ctx: RunContext, max_frames: int | None, max_sequences: int | None,
          sequences: list[str] | None = None) -> list[Sequence]:
    return open_dataset(name, root=ctx.data_root, max_frames=max_frames, max_sequences=max_sequences,
                        sequences=sequences)


def input_checksums(p: RestorationCell, ctx: RunContext) -> dict[str, str]:
    """Checksums of every input; runs before any cell trains, so a missing input stops the run first."""
    out: dict[str, str] = {}
    wanted: dict[str, list[str] | None] = {p.evaluate.dataset: p.evaluate.sequences}
    if p.train:  # training reads every sequence of its set (and a subset only limits the evaluation)
        wanted[p.train.dataset] = None
        wanted.setdefault(p.train.val_dataset, None)
    for name in sorted(wanted):
        seqs = _open(name, ctx, None, None, wanted[name])
        out.update({f"{name}/{k}": v for k, v in dataset_checksums(seqs).items()})
    ref = as_ref(p.checkpoint)
    if ref is not None:
        path = Path(ref.path)
        if not path.is_file():
            raise CheckpointError(f"{path}: checkpoint not found (key 'checkpoint' of cell "
                                  f"{ctx.cell_name}); pass the path of a .pth/.pt file")
        out["checkpoint"] = hashlib.sha256(path.read_bytes()).hexdigest()
    if p.train is not None:
        weights = motion_weights(p.train.motion, root=ctx.data_root)
        if weights is not None:
            out["motion_init"] = sha256_of(weights)
    return out


def train_dir(p: RestorationCell, ctx: RunContext) -> Path:
    """``runs/train/<model>-<key>``: the key hashes model, args, seed, recipe, code and training inputs."""
    assert p.train is not None
    train_inputs = {k: v for k, v in ctx.input_checksums.items()
                    if k.startswith(p.train.dataset + "/") or k in ("checkpoint", "motion_init")}
    key = config_hash({"model": p.model, "model_args": p.model_args, "seed": p.seed, "train": to_mapping(p.train),
                       "code": provenance.code_hash(), "inputs": train_inputs,
                       **({"plugin_code": h} if (h := model_code_hash(p.model)) else {})})
    return train_run_dir(p.model.replace(":", "-"), key)


def train_model(p: RestorationCell, model: Any, ctx: RunContext, parallel: DistInfo | None = None) -> dict[str, Any]:
    """Train ``model`` under ``p.train`` (or load the finished run); returns the training summary that
    goes into the cell's notes and, as ``train_*`` columns, into every result row."""
    assert p.train is not None
    run_dir = train_dir(p, ctx)
    summary: dict[str, Any] = {"run_dir": str(run_dir), "recipe": p.train.recipe, "config": to_mapping(p.train),
                               "schedule": p.train.schedule()}
    if (run_dir / "model.pt").exists():  # the same training (model, data, recipe, code) already finished
        load_weights(run_dir / "model.pt", model)
        summary["reused_training"] = True
        summary["last_log"] = last_log_row(run_dir / "loss.csv")
        if (run_dir / "distributed.json").exists():
            summary["distributed"] = json.loads((run_dir / "distributed.json").read_text())
        return summary
    run_dir.mkdir(parents=True, exist_ok=True)
    main = parallel is None or parallel.is_main
    # two runs sharing one training folder: the second stops; the ranks of one run share rank 0's lock
    lock = file_lock(run_dir / ".lock", timeout_s=0) if main else contextlib.nullcontext()
    with lock:
        atomic.write_text(run_dir / "config.yaml", yaml.safe_dump(
            {"model": p.model, "model_args": p.model_args, "seed": p.seed, "train": to_mapping(p.train),
             "schedule": p.train.schedule(), "cell": f"{ctx.spec_id}/{ctx.profile}/{ctx.cell_name}"},
            sort_keys=False))
        summary["motion_init"] = init_motion(model, motion_weights(p.train.motion, root=ctx.data_root))
        train_seqs = _open(p.train.dataset, ctx, p.train.max_frames_per_sequence, None)
        val_seqs = _open(p.train.val_dataset, ctx, p.train.val_frames, p.train.val_sequences)
        result = train(model=model, spec=p.train, train_sequences=train_seqs, val_sequences=val_seqs,
                       out_dir=run_dir, resume=True, device=rank_device(ctx.device, parallel),
                       progress=progress_wanted(), parallel=parallel)
    summary.update({"reused_training": False, "steps": result.steps, "final_loss": result.final_loss,
                    "resumed_from": result.resumed_from, "aux_terms": result.aux_terms,
                    "last_log": result.last_log,
                    "distributed": {**describe(parallel), "batchnorm": result.batchnorm}})
    if main:
        atomic.write_text(run_dir / "distributed.json", json.dumps(summary["distributed"]))
    return summary


def train_only(p: RestorationCell, ctx: RunContext, parallel: DistInfo | None = None) -> dict[str, Any]:
    """Train the cell's model (or find it trained) without evaluating: a cluster executor's training job,
    run on every rank; ``{}`` for a cell that does not train."""
    model = build_model(p.model, p.model_args, seed=p.seed, where=f"{ctx.spec_id}:{ctx.profile}:{ctx.cell_name}")
    ref = as_ref(p.checkpoint)
    if ref is not None:
        load_checkpoint(p.model, model, ref)
    if p.train is None or not any(True for _ in model.parameters()):
        return {}
    return train_model(p, model, ctx, parallel)


#: training-log columns copied into every result row as ``train_<name>`` (empty where not logged)
ROW_TRAIN_FIELDS = ("step", "loss", "zero_bin_share", "q_mean", "sigma_mean", "bpp")


def run_restoration(p: RestorationCell, ctx: RunContext) -> list[dict[str, Any]]:
    where = f"{ctx.spec_id}:{ctx.profile}:{ctx.cell_name}"
    model = build_model(p.model, p.model_args, seed=p.seed, where=where)
    ref = as_ref(p.checkpoint)
    if ref is not None:
        ctx.notes["checkpoint"] = load_checkpoint(p.model, model, ref)
    train_cols: dict[str, Any] = {}
    if p.train is not None and any(True for _ in model.parameters()):
        ctx.notes["train"] = summary = train_model(p, model, ctx)
        train_cols = {f"train_{k}": summary["last_log"].get(k, "") for k in ROW_TRAIN_FIELDS}
        train_cols["train_recipe"] = p.train.recipe
    model.to(ctx.device)
    ev = p.evaluate
    seqs = _open(ev.dataset, ctx, ev.max_frames, ev.max_sequences, ev.sequences)
    total = dataset_size(ev.dataset, root=ctx.data_root)
    subset = subset_columns([q.name for q in seqs] if len(seqs) < total else None, total)
    rows = evaluate_model(model, seqs, dataset=ev.dataset, spec=ev, device=ctx.device, subset=subset,
                          progress=progress_wanted())
    params_m = sum(x.numel() for x in model.parameters()) / 1e6
    for r in rows:
        r.update({"method": p.method, "dataset": p.evaluate.dataset, "model": p.model, "label": p.label or p.method,
                  "params_m": round(params_m, 4), **train_cols})
    return rows


RESTORATION_CELL = CellKind(schema=RestorationCell, run=run_restoration, inputs=input_checksums)

__all__ = ["RESTORATION_CELL", "RestorationCell", "EvalSpec", "input_checksums", "run_restoration", "train_dir",
           "train_model", "train_only"]
