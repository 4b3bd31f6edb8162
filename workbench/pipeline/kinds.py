"""Fills :data:`workbench.pipeline.cells.CELL_KINDS`, one module per kind:

- ``restoration`` (:mod:`workbench.pipeline.restoration`): train or load a model, evaluate it on a dataset;
- ``complexity`` (:mod:`workbench.pipeline.complexity`): FLOPs, parameters, runtime;
- ``fig2`` (:mod:`workbench.pipeline.fig2`): the motivation study of the paper's Fig. 2.
"""

from __future__ import annotations

from workbench.pipeline.cells import CELL_KINDS
from workbench.pipeline.complexity import COMPLEXITY_CELL
from workbench.pipeline.fig2 import FIG2_CELL
from workbench.pipeline.restoration import RESTORATION_CELL

CELL_KINDS.add("restoration", RESTORATION_CELL)
CELL_KINDS.add("complexity", COMPLEXITY_CELL)
CELL_KINDS.add("fig2", FIG2_CELL)

__all__ = ["CELL_KINDS"]
