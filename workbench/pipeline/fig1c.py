"""The ``fig1c`` cell kind (pipelines/fig1c.yaml): feature robustness to noise, one model per cell.

Trains or reuses the model (:mod:`workbench.pipeline.trained`), runs
:func:`workbench.evaluate.analysis.features.feature_study` and writes ``tsne.csv`` (the embedding with its
perplexity and seed) to the cell's artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench import atomic
from workbench.config import to_mapping
from workbench.context import RunContext
from workbench.evaluate.analysis.features import FeatureStudy, feature_study
from workbench.pipeline.cells import CellKind
from workbench.pipeline.trained import (
    TrainedModelCell,
    model_columns,
    open_sequences,
    trained_inputs,
    trained_model,
)


@dataclass
class Fig1cCell(TrainedModelCell):
    study: FeatureStudy = field(default_factory=FeatureStudy)


def _inputs(p: Fig1cCell, ctx: RunContext) -> dict[str, str]:
    return trained_inputs(p, ctx, p.study.dataset)


def run_fig1c(p: Fig1cCell, ctx: RunContext) -> list[dict[str, Any]]:
    model = trained_model(p, ctx)
    (seq,) = open_sequences(p.study.dataset, ctx, max_frames=p.study.max_frames, names=[p.study.sequence])
    rows, tsne = feature_study(model, seq, dataset=p.study.dataset, p=p.study, device=ctx.device)
    atomic.write_text(ctx.artifact_dir / "tsne.csv", tsne.to_csv(index=False))
    ctx.notes["study"] = {**to_mapping(p.study), "sequence": seq.name,
                          "tsne": "sklearn.manifold.TSNE(init='pca'), clean and noisy points of a stage jointly"}
    cols = model_columns(p, ctx, p.study.dataset)
    return [{**r, **cols} for r in rows]


FIG1C_CELL = CellKind(schema=Fig1cCell, run=run_fig1c, inputs=_inputs)

__all__ = ["FIG1C_CELL", "Fig1cCell", "run_fig1c"]
