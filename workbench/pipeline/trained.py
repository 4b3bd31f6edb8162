"""A trained model for an analysis cell (Figs. 1c, 4, 6, 7), shared with the denoising tables' cells.

An analysis cell names its model exactly as a table row does (``model``, ``model_args``, ``seed``,
``train: {recipe: …}``, ``checkpoint``); :func:`trained_model` trains it through the ``restoration``
kind's training function, so the training folder (keyed by model, args, seed, recipe, code and training
data: :func:`workbench.pipeline.restoration.train_dir`) is the one the table built, and is reused.
:func:`trained_inputs` gives the input checksums that key both the cell and that training folder.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np

from workbench import atomic
from workbench.checkpoint import load_weights
from workbench.context import RunContext
from workbench.data.catalog import open_dataset
from workbench.data.sequence import Sequence
from workbench.errors import ConfigError
from workbench.models.base import RestorationModel
from workbench.pipeline.restoration import RestorationCell, input_checksums, train_model
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model


@dataclass
class TrainedModelCell:
    """The model part of an analysis cell (the same keys as a ``restoration`` cell's)."""

    method: str
    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    train: TrainSpec | None = None
    checkpoint: str | None = None
    label: str = ""
    seed: int = 0


def as_restoration(p: TrainedModelCell) -> RestorationCell:
    return RestorationCell(method=p.method, model=p.model, model_args=p.model_args, train=p.train,
                           checkpoint=p.checkpoint, label=p.label, seed=p.seed)


def trained_inputs(p: TrainedModelCell, ctx: RunContext, dataset: str) -> dict[str, str]:
    """Checksums of the analysed dataset, the training data, the checkpoint and the motion init."""
    cell = as_restoration(p)
    cell.evaluate.dataset = dataset
    return input_checksums(cell, ctx)


def trained_model(p: TrainedModelCell, ctx: RunContext) -> RestorationModel:
    """Build the model, load ``checkpoint``, train it (or reuse the finished training); eval mode."""
    where = f"{ctx.spec_id}:{ctx.profile}:{ctx.cell_name}"
    model = build_model(p.model, p.model_args, seed=p.seed, where=where)
    if p.checkpoint:
        load_weights(p.checkpoint, model)
    if p.train is not None and any(True for _ in model.parameters()):
        ctx.notes["train"] = train_model(as_restoration(p), model, ctx)
    return model.to(ctx.device).eval()


def open_sequences(dataset: str, ctx: RunContext, *, max_frames: int | None, names: list[str] | None = None,
                   max_sequences: int | None = None) -> list[Sequence]:
    """The sequences ``names`` of ``dataset`` (all when ``None``; ``[""]`` = the first), in that order."""
    seqs = open_dataset(dataset, root=ctx.data_root, max_frames=max_frames)
    if names is None:
        return seqs[:max_sequences] if max_sequences else seqs
    by_name = {s.name: s for s in seqs}
    missing = [n for n in names if n and n not in by_name]
    if missing:
        raise ConfigError(f"{dataset} has no sequence {', '.join(missing)}; known: {', '.join(by_name)}")
    return [by_name[n] if n else seqs[0] for n in names]


def model_columns(p: TrainedModelCell, ctx: RunContext, dataset: str) -> dict[str, Any]:
    """Columns every row of an analysis cell carries."""
    summary = ctx.notes.get("train", {})
    return {"method": p.method, "label": p.label or p.method, "model": p.model, "dataset": dataset,
            "train_recipe": p.train.recipe if p.train else "", "train_run": summary.get("run_dir", "")}


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a float image in [0, 1] ``(H, W, 3)`` as an 8-bit PNG (atomically)."""
    buf = io.BytesIO()
    iio.imwrite(buf, (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), extension=".png")
    atomic.write_bytes(path, buf.getvalue())


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    atomic.write_bytes(path, buf.getvalue())
