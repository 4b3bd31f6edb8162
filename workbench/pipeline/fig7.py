"""The ``fig7`` cell kind (pipelines/fig7.yaml): one crop of one restored frame, per method.

Runs :func:`workbench.evaluate.analysis.crops.crop_study` with a trained model of the denoising tables and
writes ``restored.png``, ``clean.png``, ``noisy.png`` and ``crop.json`` to the cell's artifacts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from workbench import atomic
from workbench.config import to_mapping
from workbench.context import RunContext
from workbench.evaluate.analysis.crops import CropStudy, crop_study
from workbench.pipeline.cells import CellKind
from workbench.pipeline.trained import (
    TrainedModelCell,
    model_columns,
    open_sequences,
    trained_inputs,
    trained_model,
    write_png,
)


@dataclass
class Fig7Cell(TrainedModelCell):
    study: CropStudy = field(default_factory=CropStudy)


def _inputs(p: Fig7Cell, ctx: RunContext) -> dict[str, str]:
    return trained_inputs(p, ctx, p.study.dataset)


def run_fig7(p: Fig7Cell, ctx: RunContext) -> list[dict[str, Any]]:
    model = trained_model(p, ctx)
    (seq,) = open_sequences(p.study.dataset, ctx, max_frames=p.study.max_frames, names=[p.study.sequence])
    rows, crops, box = crop_study(model, seq, dataset=p.study.dataset, p=p.study, device=ctx.device)
    for name, image in crops.items():
        write_png(ctx.artifact_dir / f"{name}.png", image)
    atomic.write_text(ctx.artifact_dir / "crop.json", json.dumps(
        {"sequence": seq.name, "frame": rows[0]["frame"], "box_yxhw": list(box), "sigma": p.study.sigma}))
    ctx.notes["study"] = to_mapping(p.study)
    cols = model_columns(p, ctx, p.study.dataset)
    return [{**r, **cols} for r in rows]


FIG7_CELL = CellKind(schema=Fig7Cell, run=run_fig7, inputs=_inputs)

__all__ = ["FIG7_CELL", "Fig7Cell", "run_fig7"]
