"""The ``fig2`` cell kind (pipelines/fig2.yaml): the motivation study of the paper's Fig. 2.

The work is :func:`workbench.evaluate.fig2.run_fig2`; this module declares the kind (schema, run, the
inputs that key the cell) and, in a profile with a zoo, hands the study the zoo's learned codec
(:mod:`workbench.pipeline.codec_zoo`) instead of training it in the run.
"""

from __future__ import annotations

from typing import Any

from workbench.context import RunContext
from workbench.evaluate.fig2 import Fig2Params, input_checksums, run_fig2
from workbench.pipeline import codec_zoo
from workbench.pipeline.cells import CellKind


def run(p: Fig2Params, ctx: RunContext) -> list[dict[str, Any]]:
    """:func:`run_fig2`, the learned codec it trains taken from the profile's zoo when it has one (run_fig2 asks
    its trainer only for a codec it neither skips nor imports)."""
    return run_fig2(p, ctx, trainer=codec_zoo.trainer) if ctx.zoo_dir is not None else run_fig2(p, ctx)


FIG2_CELL = CellKind(schema=Fig2Params, run=run, inputs=input_checksums)

__all__ = ["FIG2_CELL", "run"]
