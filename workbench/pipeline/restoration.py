"""The ``restoration`` cell kind: train (or load) one model, then evaluate it on a dataset at each σ.

Rows: one per (σ, sequence, metric) with ``level = "sequence"`` and one per (σ, metric) with
``level = "dataset"`` (the mean over sequences of per-sequence means), each with the protocol card,
the noise seed rule and, for bi-directional models, the chunking rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from workbench import atomic
from workbench.config import from_mapping, to_mapping
from workbench.data.sequence import Sequence
from workbench.degrade.awgn import add_awgn_frame, noise_seed
from workbench.errors import ConfigError
from workbench.evaluate.infer import chunking_rule, restore_stream
from workbench.evaluate.metrics import Protocol, average_frames, frame_metrics
from workbench.models.base import RestorationModel
from workbench.models.checkpoint_io import load_strict, read_state_dict
from workbench.pipeline.cells import CellContext, CellKind
from workbench.train.loop import train
from workbench.train.spec import TrainSpec


@dataclass
class EvalSpec:
    dataset: str = "embedded-test"
    sigmas: list[float] = field(default_factory=lambda: [10.0, 20.0, 30.0, 40.0, 50.0])
    max_frames: int | None = 85
    max_sequences: int | None = None
    chunk_len: int = 10
    chunk_overlap: int = 2
    crop_border: int = 0
    rounding: str = "none"
    clip_output: bool = True


@dataclass
class RestorationCell:
    method: str
    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    train: TrainSpec | None = None
    checkpoint: str | None = None
    evaluate: EvalSpec = field(default_factory=EvalSpec)
    label: str = ""
    seed: int = 0


def build_model(model_id: str, args: dict[str, Any], *, seed: int, where: str) -> RestorationModel:
    """Construct registry model ``model_id`` with typed keyword ``args``; weights initialised from ``seed``."""
    from workbench import zoo  # noqa: F401  (fills the registries)
    from workbench.registry import MODELS

    ctor = MODELS.get(model_id)
    torch.manual_seed(seed)
    try:
        model = ctor(**args)
    except TypeError as exc:
        raise ConfigError(f"{where}: model {model_id!r} rejects its arguments ({exc})") from None
    if not isinstance(model, RestorationModel):
        raise ConfigError(f"{where}: {model_id!r} is not a restoration model")
    return model


def _open(name: str, ctx: CellContext, max_frames: int | None, max_sequences: int | None) -> list[Sequence]:
    from workbench.data.catalog import open_dataset

    seqs = open_dataset(name, root=ctx.data_root, max_frames=max_frames)
    return seqs[:max_sequences] if max_sequences else seqs


def _inputs(p: RestorationCell, ctx: CellContext) -> dict[str, str]:
    from workbench.data.catalog import dataset_checksums

    out: dict[str, str] = {}
    names = {p.evaluate.dataset} | ({p.train.dataset} if p.train else set())
    for name in sorted(names):
        seqs = _open(name, ctx, None, None)
        out.update({f"{name}/{k}": v for k, v in dataset_checksums(seqs).items()})
    if p.checkpoint:
        import hashlib

        out["checkpoint"] = hashlib.sha256(Path(p.checkpoint).read_bytes()).hexdigest()
    return out


def evaluate_model(model: RestorationModel, seqs: list[Sequence], *, dataset: str, spec: EvalSpec,
                   device: str) -> list[dict[str, Any]]:
    protocol = Protocol(frames_per_sequence=spec.max_frames, crop_border=spec.crop_border,
                        rounding=spec.rounding, clip_output=spec.clip_output)  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = []
    extra = {"chunking": chunking_rule(spec.chunk_len, spec.chunk_overlap)} if model.temporal_mode == "clip" else {}
    for sigma in spec.sigmas:
        per_seq: list[dict[str, float]] = []
        for seq in seqs:
            seed = noise_seed(dataset, seq.name, sigma)

            def noisy(i: int, s: Sequence = seq, sd: int = seed, sg: float = sigma) -> np.ndarray:
                return add_awgn_frame(s.frame(i), sg, sd, i)

            frames = [
                frame_metrics(seq.frame(t), out, protocol)
                for t, out in restore_stream(model, noisy, len(seq),
                                             noise_sigma=sigma if model.uses_noise_map else None, device=device,
                                             chunk_len=spec.chunk_len, chunk_overlap=spec.chunk_overlap)
            ]
            seq_mean = average_frames(frames)
            per_seq.append(seq_mean)
            for metric, value in seq_mean.items():
                rows.append({"level": "sequence", "sequence": seq.name, "setting": f"sigma={sigma:g}",
                             "metric": metric, "value": value, "frames": len(frames), "noise_seed": seed,
                             **protocol.card(), **extra})
        for metric in per_seq[0]:
            rows.append({"level": "dataset", "sequence": "", "setting": f"sigma={sigma:g}", "metric": metric,
                         "value": float(np.mean([m[metric] for m in per_seq])), "frames": "",
                         "noise_seed": "noise_seed(dataset, sequence, sigma)", **protocol.card(), **extra})
    return rows


def train_dir(p: RestorationCell, ctx: CellContext) -> Path:
    """Training runs are cached by (model, args, seed, init checkpoint, recipe, code, training data), not by
    cell, so cells that only differ in evaluation (σ list, frames) share one trained model."""
    from workbench import provenance
    from workbench.config import config_hash
    from workbench.paths import runs_root

    train_inputs = {k: v for k, v in ctx.input_checksums.items()
                    if p.train is not None and (k.startswith(p.train.dataset + "/") or k == "checkpoint")}
    key = config_hash({"model": p.model, "model_args": p.model_args, "seed": p.seed, "train": to_mapping(p.train),
                       "code": provenance.code_hash(), "inputs": train_inputs})
    return runs_root() / "train" / f"{p.model}-{key[:16]}"


def run_restoration(p: RestorationCell, ctx: CellContext) -> list[dict[str, Any]]:
    where = f"{ctx.spec_id}:{ctx.profile}:{ctx.cell_name}"
    model = build_model(p.model, p.model_args, seed=p.seed, where=where)
    if p.checkpoint:
        load_strict(model, read_state_dict(p.checkpoint), source=p.checkpoint)
    if p.train is not None and any(True for _ in model.parameters()):
        run_dir = train_dir(p, ctx)
        if (run_dir / "model.pt").exists():  # the same training (model, data, recipe, code) already finished
            model.load_state_dict(torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True))
            ctx.notes["train"] = {"reused_training": str(run_dir), "config": to_mapping(p.train)}
        else:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic.write_text(run_dir / "config.yaml", yaml.safe_dump(
                {"model": p.model, "model_args": p.model_args, "seed": p.seed, "train": to_mapping(p.train),
                 "cell": f"{ctx.spec_id}/{ctx.profile}/{ctx.cell_name}"}, sort_keys=False))
            train_seqs = _open(p.train.dataset, ctx, p.train.max_frames_per_sequence, None)
            val_seqs = _open(p.train.val_dataset, ctx, p.train.val_frames, p.train.val_sequences)
            result = train(model=model, spec=p.train, train_sequences=train_seqs, val_sequences=val_seqs,
                           out_dir=run_dir, resume=True, device=ctx.device, progress=False)
            ctx.notes["train"] = {"steps": result.steps, "final_loss": result.final_loss, "run_dir": str(run_dir),
                                  "resumed_from": result.resumed_from, "config": to_mapping(p.train)}
    model.to(ctx.device)
    seqs = _open(p.evaluate.dataset, ctx, p.evaluate.max_frames, p.evaluate.max_sequences)
    rows = evaluate_model(model, seqs, dataset=p.evaluate.dataset, spec=p.evaluate, device=ctx.device)
    params_m = sum(x.numel() for x in model.parameters()) / 1e6
    for r in rows:
        r.update({"method": p.method, "dataset": p.evaluate.dataset, "model": p.model, "label": p.label or p.method,
                  "params_m": round(params_m, 4)})
    return rows


RESTORATION_CELL = CellKind(schema=RestorationCell, run=run_restoration, inputs=_inputs)

__all__ = ["RESTORATION_CELL", "RestorationCell", "EvalSpec", "build_model", "evaluate_model", "from_mapping"]
