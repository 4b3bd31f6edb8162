"""The ``fig4`` cell kind (pipelines/fig4.yaml): flow before/after MV refinement against the truth.

Runs :func:`workbench.evaluate.analysis.motion.motion_study` with a trained model and writes the example
frame's flows to ``flows.npz`` in the cell's artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.config import to_mapping
from workbench.context import RunContext
from workbench.evaluate.analysis.motion import MotionStudy, motion_study
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
class Fig4Cell(TrainedModelCell):
    study: MotionStudy = field(default_factory=MotionStudy)


def _inputs(p: Fig4Cell, ctx: RunContext) -> dict[str, str]:
    return trained_inputs(p, ctx, p.study.dataset)


def run_fig4(p: Fig4Cell, ctx: RunContext) -> list[dict[str, Any]]:
    model = trained_model(p, ctx)
    seqs = open_sequences(p.study.dataset, ctx, max_frames=p.study.max_frames, names=p.study.sequences)
    rows, example = motion_study(model, seqs, dataset=p.study.dataset, p=p.study, device=ctx.device)
    write_npz(ctx.artifact_dir / "flows.npz", example)
    ctx.notes["study"] = to_mapping(p.study)
    cols = model_columns(p, ctx, p.study.dataset)
    return [{**r, **cols} for r in rows]


FIG4_CELL = CellKind(schema=Fig4Cell, run=run_fig4, inputs=_inputs)

__all__ = ["FIG4_CELL", "Fig4Cell", "run_fig4"]
