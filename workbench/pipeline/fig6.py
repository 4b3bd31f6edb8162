"""The ``fig6`` cell kind (pipelines/fig6.yaml): the learned quantization-step map against texture.

Runs :func:`workbench.evaluate.analysis.stepmap.step_map_study` with a trained AdapQ model and writes the
example frame's maps to ``qmap.npz`` in the cell's artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.config import to_mapping
from workbench.context import RunContext
from workbench.evaluate.analysis.stepmap import StepMapStudy, step_map_study
from workbench.pipeline.cells import CellKind
from workbench.pipeline.trained import (
    TrainedModelCell,
    model_columns,
    open_sequences,
    trained_inputs,
    trained_model,
    write_npz,
)


@dataclass
class Fig6Cell(TrainedModelCell):
    study: StepMapStudy = field(default_factory=StepMapStudy)


def _inputs(p: Fig6Cell, ctx: RunContext) -> dict[str, str]:
    return trained_inputs(p, ctx, p.study.dataset)


def run_fig6(p: Fig6Cell, ctx: RunContext) -> list[dict[str, Any]]:
    model = trained_model(p, ctx)
    seqs = open_sequences(p.study.dataset, ctx, max_frames=p.study.max_frames, max_sequences=p.study.max_sequences)
    rows, example = step_map_study(model, seqs, dataset=p.study.dataset, p=p.study, device=ctx.device)
    write_npz(ctx.artifact_dir / "qmap.npz", example)
    ctx.notes["study"] = to_mapping(p.study)
    cols = model_columns(p, ctx, p.study.dataset)
    return [{**r, **cols} for r in rows]


FIG6_CELL = CellKind(schema=Fig6Cell, run=run_fig6, inputs=_inputs)

__all__ = ["FIG6_CELL", "Fig6Cell", "run_fig6"]
