"""The ``restoration`` cell kind: train (or load) one model, then evaluate it on a dataset at each σ.

Evaluation is :func:`workbench.evaluate.restoration.evaluate_model` (rows and protocol card described
there), run once per σ and cached by weights, protocol, data and code (:mod:`workbench.evaluate.cache`),
so a model that stands in several tables is evaluated once at each σ. Training runs are cached by
(model, args, seed, init checkpoint, recipe, code, training data), not by cell (:func:`train_dir`; a
plugin model's source files are part of the key), so cells that only differ in evaluation (σ list,
frames) — and identical rows of different tables — share one trained model.

:func:`train_only` is the training half alone, run on every rank of a data-parallel job by a cluster
executor (:mod:`workbench.pipeline.executors`); rank 0 records the run's parallelism in
``runs/train/<...>/distributed.json`` and the cell's notes carry it (``train.distributed``) into the manifest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench import atomic, provenance
from workbench.checkpoint import load_weights
from workbench.checkpoint_formats import CheckpointRef, as_ref, load_checkpoint
from workbench.config import config_hash, to_mapping
from workbench.context import RunContext
from workbench.data.catalog import dataset_checksums, dataset_size, is_paired_dataset, open_dataset
from workbench.data.sequence import Sequence
from workbench.errors import CheckpointError
from workbench.evaluate.cache import cached_rows, evaluation_key, stored_seconds
from workbench.evaluate.restoration import EvalSpec, evaluate_model, progress_wanted, subset_columns
from workbench.locks import file_lock
from workbench.pipeline import zoo
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
    #: drives both the model's initialisation and the training sampler (clips, crops, noise): the recipe's
    #: ``train.seed`` is replaced by it; the test noise never depends on it (docs/protocols.md §1)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.train is not None and self.train.seed != self.seed:
            self.train = dataclasses.replace(self.train, seed=self.seed)


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
    inputs = {k: v for k, v in ctx.input_checksums.items()
              if k.startswith(p.train.dataset + "/") or k in ("checkpoint", "motion_init")}
    key = config_hash({"model": p.model, "model_args": p.model_args, "seed": p.seed, "train": to_mapping(p.train),
                       "code": provenance.code_hash(), "inputs": inputs,
                       **({"plugin_code": h} if (h := model_code_hash(p.model)) else {})})
    return train_run_dir(p.model.replace(":", "-"), key)


def train_inputs(p: RestorationCell, ctx: RunContext) -> dict[str, str]:
    """The training data's ``{file: sha256}`` among the cell's input checksums."""
    assert p.train is not None
    return {k: v for k, v in ctx.input_checksums.items() if k.startswith(p.train.dataset + "/")}


def zoo_identity(p: RestorationCell, ctx: RunContext) -> tuple[str, dict[str, Any]]:
    """The cell's zoo entry name and the config whose hash the entry must carry."""
    assert p.train is not None
    task = zoo.training_task(p.train.dataset, noise=p.train.noise, paired=is_paired_dataset(p.train.dataset))
    return zoo.entry_name(p.model, p.model_args, p.seed, task), zoo.zoo_config(
        model=p.model, model_args=p.model_args, seed=p.seed, train=p.train,
        data=zoo.data_digest(train_inputs(p, ctx)))


def _from_zoo(p: RestorationCell, model: Any, ctx: RunContext) -> dict[str, Any] | None:
    """Load the cell's model from the profile's zoo; ``None`` (after a loud warning for a stale or
    unloadable entry) when it has to be trained."""
    assert p.train is not None and ctx.zoo_dir is not None
    name, config = zoo_identity(p, ctx)
    hit = zoo.find(ctx.zoo_dir, name, config)
    if hit.status == "absent":
        zoo.warn(f"{ctx.zoo_dir / name}: not in the zoo; training {p.model} ({ctx.spec_id}/{ctx.cell_name})")
        return None
    if hit.status == "stale":
        zoo.warn(f"{hit.folder}: config hash {hit.manifest.get('config_hash', '?')[:16]} no longer matches "
                 f"{config_hash(config)[:16]} (recipe, arguments or training data changed); retraining {p.model}")
        return None
    try:
        zoo.load_entry(model, hit, ctx.zoo_dir)
    except CheckpointError as exc:
        zoo.warn(f"{exc} — the code no longer matches the zoo entry; retraining {p.model}")
        return None
    m = hit.manifest
    return {"run_dir": str(hit.folder), "recipe": p.train.recipe, "config": to_mapping(p.train),
            "schedule": p.train.schedule(), "precision": p.train.precision, "reused_training": "zoo", "zoo_entry": name,
            "zoo_config_hash": m.get("config_hash"), "zoo_code_commit": m.get("code_commit"),
            "steps": m.get("steps"), "wall_s": m.get("wall_s"), "last_log": m.get("last_log", {})}


def _retrain_threads(p: RestorationCell, ctx: RunContext) -> contextlib.AbstractContextManager[object]:
    """While retraining a profile with a zoo: the thread count of the cell's entry (so ``--retrain`` on the
    machine type that built the zoo reproduces its bits); otherwise the process's own."""
    if not ctx.retrain or ctx.zoo_dir is None:
        return contextlib.nullcontext()
    name, _ = zoo_identity(p, ctx)
    manifest = ctx.zoo_dir / name / zoo.MANIFEST
    if not manifest.is_file():
        return contextlib.nullcontext()
    return zoo.entry_threads(json.loads(manifest.read_text()))


def train_model(p: RestorationCell, model: Any, ctx: RunContext, parallel: DistInfo | None = None) -> dict[str, Any]:
    """Train ``model`` under ``p.train`` (or take it from the profile's zoo, or load the finished run);
    returns the training summary that goes into the cell's notes and, as ``train_*`` columns, into every
    result row. With ``ctx.retrain`` an existing finished run is discarded and the model trained from
    scratch; a model trained for a profile with a zoo (not retraining) is published into the zoo."""
    assert p.train is not None
    if ctx.zoo_dir is not None:
        zoo.code_at_start()  # the commit an entry names is the one this process imported, asked before training
    if ctx.zoo_dir is not None and not ctx.retrain:
        served = _from_zoo(p, model, ctx)
        if served is not None:
            return served
    run_dir = train_dir(p, ctx)
    summary: dict[str, Any] = {"run_dir": str(run_dir), "recipe": p.train.recipe, "config": to_mapping(p.train),
                               "schedule": p.train.schedule(), "precision": p.train.precision}
    if ctx.retrain and run_dir.exists():
        shutil.rmtree(run_dir)  # from scratch: no finished run, no checkpoint to resume
    if (run_dir / "model.pt").exists():  # the same training (model, data, recipe, code) already finished
        load_weights(run_dir / "model.pt", model)
        summary["reused_training"] = True
        summary["last_log"] = last_log_row(run_dir / "loss.csv")
        if (run_dir / "distributed.json").exists():
            summary["distributed"] = json.loads((run_dir / "distributed.json").read_text())
        _maybe_publish(p, model, ctx, run_dir, summary)
        return summary
    run_dir.mkdir(parents=True, exist_ok=True)
    main = parallel is None or parallel.is_main
    # two runs sharing one training folder: the second stops; the ranks of one run share rank 0's lock
    lock = file_lock(run_dir / ".lock", timeout_s=0) if main else contextlib.nullcontext()
    t0 = time.time()
    with lock:
        atomic.write_text(run_dir / "config.yaml", yaml.safe_dump(
            {"model": p.model, "model_args": p.model_args, "seed": p.seed, "train": to_mapping(p.train),
             "schedule": p.train.schedule(), "cell": f"{ctx.spec_id}/{ctx.profile}/{ctx.cell_name}"},
            sort_keys=False))
        summary["motion_init"] = init_motion(model, motion_weights(p.train.motion, root=ctx.data_root))
        train_seqs = _open(p.train.dataset, ctx, p.train.max_frames_per_sequence, None)
        val_seqs = _open(p.train.val_dataset, ctx, p.train.val_frames, p.train.val_sequences)
        with _retrain_threads(p, ctx):
            result = train(model=model, spec=p.train, train_sequences=train_seqs, val_sequences=val_seqs,
                           out_dir=run_dir, resume=True, device=rank_device(ctx.device, parallel),
                           progress=progress_wanted(), parallel=parallel)
    summary.update({"reused_training": False, "steps": result.steps, "final_loss": result.final_loss,
                    "resumed_from": result.resumed_from, "aux_terms": result.aux_terms,
                    "last_log": result.last_log, "wall_s": round(time.time() - t0, 1),
                    "distributed": {**describe(parallel), "batchnorm": result.batchnorm}})
    if main:
        atomic.write_text(run_dir / "distributed.json", json.dumps(summary["distributed"]))
        atomic.write_text(run_dir / "wall_s.txt", f"{summary['wall_s']}\n")
        _maybe_publish(p, model, ctx, run_dir, summary)
    return summary


def _maybe_publish(p: RestorationCell, model: Any, ctx: RunContext, run_dir: Path, summary: dict[str, Any]) -> None:
    """Publish a finished run into the profile's zoo (not while retraining: that run is the check). In a zoo
    profile the model is first rounded to the zoo's storage precision (float16 weights), retraining included,
    so a row evaluated right after training measures the network the zoo serves."""
    if ctx.zoo_dir is None or p.train is None:
        return
    zoo.round_to_storage(model, p.train)
    if ctx.retrain:
        return
    wall = summary.get("wall_s")
    if wall is None and (run_dir / "wall_s.txt").is_file():
        wall = float((run_dir / "wall_s.txt").read_text())
    name, config = zoo_identity(p, ctx)
    if "steps" not in summary:
        summary["steps"] = p.train.steps
    folder = zoo.publish(ctx.zoo_dir, name, config, model=model, train=p.train, run_dir=run_dir,
                         summary={**summary, "train_inputs": train_inputs(p, ctx)},
                         motion_init=motion_weights(p.train.motion, root=ctx.data_root),
                         device=ctx.device, wall_s=float(wall or 0.0))
    summary["zoo_entry"] = folder.name


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
        source = summary.get("reused_training")
        train_cols["train_source"] = "zoo" if source == "zoo" else ("cached run" if source else "trained now")
        train_cols["train_zoo_entry"] = summary.get("zoo_entry", "")
    model.to(ctx.device)
    ev = p.evaluate
    seqs = _open(ev.dataset, ctx, ev.max_frames, ev.max_sequences, ev.sequences)
    total = dataset_size(ev.dataset, root=ctx.data_root)
    subset = subset_columns([q.name for q in seqs] if len(seqs) < total else None, total)
    rows, reused, seconds = [], [], []
    data = {k: v for k, v in ctx.input_checksums.items() if k.startswith(ev.dataset + "/")}
    for sigma in ev.sigmas:  # one evaluation per σ, so a table evaluating a subset of σ shares them
        one = dataclasses.replace(ev, sigmas=[sigma])
        key = evaluation_key(model, protocol={"dataset": ev.dataset, **to_mapping(one),
                                              "plugin_code": model_code_hash(p.model)},
                             subset=subset, data=data, device=ctx.device)
        part, hit = cached_rows(key, lambda one=one: evaluate_model(  # type: ignore[misc]
            model, seqs, dataset=ev.dataset, spec=one, device=ctx.device, subset=subset, progress=progress_wanted()))
        rows.extend(part)
        reused.append(hit)
        seconds.append(stored_seconds(key))
    names = [str(s) for s in ev.sigmas]
    ctx.notes["evaluation"] = {"per_sigma_reused": dict(zip(names, reused, strict=True)), "reused": all(reused),
                               "per_sigma_seconds": dict(zip(names, seconds, strict=True))}
    params_m = sum(x.numel() for x in model.parameters()) / 1e6
    for r in rows:
        r.update({"method": p.method, "dataset": p.evaluate.dataset, "model": p.model, "label": p.label or p.method,
                  "seed": p.seed, "params_m": round(params_m, 4), **train_cols})
    return rows


RESTORATION_CELL = CellKind(schema=RestorationCell, run=run_restoration, inputs=input_checksums)

__all__ = ["RESTORATION_CELL", "RestorationCell", "EvalSpec", "input_checksums", "run_restoration", "train_dir",
           "train_inputs", "train_model", "train_only", "zoo_identity"]
