"""The ``raw-restoration`` cell kind (Table 2, Table 7's RWD column): train one raw model, evaluate it on
paired raw video under RViDeNet's protocol (:mod:`workbench.evaluate.raw_restoration`).

Training reuses the restoration cell's machinery (:func:`workbench.pipeline.restoration.train_model`:
cached runs under ``runs/train/``, the recipe's schedule, resumable), with the recipe's ``noise`` set to
``raw-iso`` (synthetic Poisson–Gaussian per ISO on clean raw: the embedded raw clips, SRVD) or ``raw-pair``
(CRVD pairs). An optional ``pretrain`` stage runs first (the full profile: SRVD pretraining, then CRVD
fine-tuning, docs/protocols.md §2.3); the fine-tuning run's key then includes the pretrained weights'
sha256, and its recipe should keep the motion network as pretrained (``motion.init: none``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.context import RunContext
from workbench.data.catalog import dataset_checksums, open_dataset
from workbench.evaluate.raw_restoration import RawEvalSpec, evaluate_raw_model, select
from workbench.evaluate.raw_srgb import isp_weights, load_isp
from workbench.paths import data_root
from workbench.pipeline.cells import CellKind
from workbench.pipeline.restoration import ROW_TRAIN_FIELDS, RestorationCell, train_model
from workbench.train.motion import motion_weights, sha256_of
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model


@dataclass
class RawRestorationCell:
    method: str
    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    #: optional first stage (SRVD pretraining); ``train`` then fine-tunes its weights
    pretrain: TrainSpec | None = None
    train: TrainSpec | None = None
    evaluate: RawEvalSpec = field(default_factory=RawEvalSpec)
    label: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("pretrain", "train"):
            spec = getattr(self, key)
            if spec is not None and spec.seed != self.seed:
                setattr(self, key, dataclasses.replace(spec, seed=self.seed))


def raw_stage(p: RawRestorationCell, spec: TrainSpec) -> RestorationCell:
    """One training stage of the cell (``spec``: its pretrain or train recipe) as a ``restoration`` cell."""
    return RestorationCell(method=p.method, model=p.model, model_args=p.model_args, train=spec, seed=p.seed)


def input_checksums(p: RawRestorationCell, ctx: RunContext) -> dict[str, str]:
    """Checksums of the evaluation and training data (and the motion prior); a missing set stops the run."""
    out: dict[str, str] = {}
    names = {p.evaluate.dataset} | {s.dataset for s in (p.pretrain, p.train) if s is not None}
    for name in sorted(names):
        seqs = open_dataset(name, root=ctx.data_root)
        out.update({f"{name}/{k}": v for k, v in dataset_checksums(seqs).items()})
    if p.evaluate.srgb:  # a missing ISP stops the run before any cell trains
        out["isp_weights"] = sha256_of(isp_weights(data_root(ctx.data_root)))
    first = p.pretrain or p.train
    if first is not None and (weights := motion_weights(first.motion, root=ctx.data_root)) is not None:
        out["motion_init"] = sha256_of(weights)
    return out


def _train(p: RawRestorationCell, model: Any, ctx: RunContext) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    if p.pretrain is not None:
        summary["pretrain"] = train_model(raw_stage(p, p.pretrain), model, ctx)
        # the fine-tuning run starts from these weights: they are part of its key
        ctx.input_checksums["checkpoint"] = sha256_of(_model_file(summary["pretrain"]))
    if p.train is not None:
        summary.update(train_model(raw_stage(p, p.train), model, ctx))
    return summary


def _model_file(summary: dict[str, Any]) -> Path:
    return Path(summary["run_dir"]) / "model.pt"


def run_raw_restoration(p: RawRestorationCell, ctx: RunContext) -> list[dict[str, Any]]:
    model = build_model(p.model, p.model_args, seed=p.seed, where=f"{ctx.spec_id}:{ctx.profile}:{ctx.cell_name}")
    train_cols: dict[str, Any] = {}
    if (p.train or p.pretrain) is not None and any(True for _ in model.parameters()):
        ctx.notes["train"] = summary = _train(p, model, ctx)  # trains (or loads) the weights in place
        last = summary.get("last_log") or summary.get("pretrain", {}).get("last_log", {})
        train_cols = {f"train_{k}": last.get(k, "") for k in ROW_TRAIN_FIELDS}
        train_cols["train_recipe"] = "+".join(s.recipe for s in (p.pretrain, p.train) if s is not None)
    model.to(ctx.device)
    seqs = select(open_dataset(p.evaluate.dataset, root=ctx.data_root, max_frames=p.evaluate.max_frames),
                  p.evaluate)
    isp = load_isp(data_root(ctx.data_root), ctx.device) if p.evaluate.srgb else None
    rows = evaluate_raw_model(model, seqs, dataset=p.evaluate.dataset, spec=p.evaluate, device=ctx.device, isp=isp)
    params_m = sum(x.numel() for x in model.parameters()) / 1e6
    for r in rows:
        r.update({"method": p.method, "dataset": p.evaluate.dataset, "model": p.model,
                  "label": p.label or p.method, "seed": p.seed, "params_m": round(params_m, 4), **train_cols})
    return rows


RAW_RESTORATION_CELL = CellKind(schema=RawRestorationCell, run=run_raw_restoration, inputs=input_checksums)

__all__ = ["RAW_RESTORATION_CELL", "RawRestorationCell", "input_checksums", "raw_stage", "run_raw_restoration"]
