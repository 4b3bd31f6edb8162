"""The ``paired`` cell kind (Tables 3, 4 and the deraining/dehazing columns of 7): train (or load) one model on
degraded/clean pairs, then evaluate it under the metrics its benchmark declares.

Training is the ``restoration`` kind's (:func:`workbench.pipeline.restoration.train_model`: the same recipes,
training cache, zoo and manifests); the training data are pairs, so the loop trains on them as they are, with
no AWGN (:func:`workbench.train.loop.training_pair`). Evaluation is
:func:`workbench.evaluate.paired.evaluate_paired`, cached by weights, protocol, data and code. The embedded
paired splits are built before their checksums are taken (:mod:`workbench.degrade.embedded_paired`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from workbench.checkpoint_formats import CheckpointRef, as_ref, load_checkpoint
from workbench.config import to_mapping
from workbench.context import RunContext
from workbench.data.catalog import dataset_size, open_dataset
from workbench.data.embedded_paired import PAIRED_SPLITS
from workbench.degrade.embedded_paired import ensure_paired_split
from workbench.evaluate.cache import cached_rows, evaluation_key
from workbench.evaluate.paired import PairedEvalSpec, evaluate_paired
from workbench.evaluate.restoration import progress_wanted, subset_columns
from workbench.pipeline.cells import CellKind
from workbench.pipeline.restoration import ROW_TRAIN_FIELDS, RestorationCell, input_checksums, train_model
from workbench.plugins import model_code_hash
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model


@dataclass
class PairedCell:
    """A model trained and evaluated on degraded/clean pairs (the keys of a ``restoration`` cell, with a
    :class:`~workbench.evaluate.paired.PairedEvalSpec` as ``evaluate``)."""

    method: str
    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    train: TrainSpec | None = None
    checkpoint: str | CheckpointRef | None = None
    evaluate: PairedEvalSpec = field(default_factory=PairedEvalSpec)
    label: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.train is not None and self.train.seed != self.seed:
            self.train = dataclasses.replace(self.train, seed=self.seed)


def as_restoration(p: PairedCell) -> RestorationCell:
    """The training half of the cell as a ``restoration`` cell (same model, recipe, seed and checkpoint)."""
    cell = RestorationCell(method=p.method, model=p.model, model_args=p.model_args, train=p.train,
                           checkpoint=p.checkpoint, label=p.label, seed=p.seed)
    cell.evaluate.dataset, cell.evaluate.sequences = p.evaluate.dataset, p.evaluate.sequences
    return cell


def paired_inputs(p: PairedCell, ctx: RunContext) -> dict[str, str]:
    """Build the embedded paired splits the cell reads, then every input's checksums."""
    for name in {p.evaluate.dataset, *((p.train.dataset, p.train.val_dataset) if p.train else ())}:
        if name in PAIRED_SPLITS:
            ensure_paired_split(name)
    return input_checksums(as_restoration(p), ctx)


def run_paired(p: PairedCell, ctx: RunContext) -> list[dict[str, Any]]:
    model = build_model(p.model, p.model_args, seed=p.seed, where=f"{ctx.spec_id}:{ctx.profile}:{ctx.cell_name}")
    ref = as_ref(p.checkpoint)
    if ref is not None:
        ctx.notes["checkpoint"] = load_checkpoint(p.model, model, ref)
    train_cols: dict[str, Any] = {}
    if p.train is not None and any(True for _ in model.parameters()):
        ctx.notes["train"] = summary = train_model(as_restoration(p), model, ctx)
        train_cols = {f"train_{k}": summary["last_log"].get(k, "") for k in ROW_TRAIN_FIELDS}
        source = summary.get("reused_training")
        train_cols.update({"train_recipe": p.train.recipe, "train_dataset": p.train.dataset,
                           "train_source": "zoo" if source == "zoo" else ("cached run" if source else "trained now"),
                           "train_zoo_entry": summary.get("zoo_entry", "")})
    model.to(ctx.device)
    ev = p.evaluate
    seqs = open_dataset(ev.dataset, root=ctx.data_root, max_frames=ev.max_frames, max_sequences=ev.max_sequences,
                        sequences=ev.sequences)
    total = dataset_size(ev.dataset, root=ctx.data_root)
    subset = subset_columns([q.name for q in seqs] if len(seqs) < total else None, total)
    data = {k: v for k, v in ctx.input_checksums.items() if k.startswith(ev.dataset + "/")}
    key = evaluation_key(model, protocol={"kind": "paired", **to_mapping(ev), "metric_set": ev.metric_set().name,
                                          "plugin_code": model_code_hash(p.model)},
                         subset=subset, data=data, device=ctx.device)
    rows, reused = cached_rows(key, lambda: evaluate_paired(model, seqs, dataset=ev.dataset, spec=ev,
                                                            device=ctx.device, subset=subset,
                                                            progress=progress_wanted()))
    ctx.notes["evaluation"] = {"reused": reused, "metric_set": ev.metric_set().name}
    params_m = sum(x.numel() for x in model.parameters()) / 1e6
    for r in rows:
        r.update({"method": p.method, "dataset": ev.dataset, "model": p.model, "label": p.label or p.method,
                  "seed": p.seed, "params_m": round(params_m, 4), **train_cols})
    return rows


PAIRED_CELL = CellKind(schema=PairedCell, run=run_paired, inputs=paired_inputs)

__all__ = ["PAIRED_CELL", "PairedCell", "as_restoration", "paired_inputs", "run_paired"]
