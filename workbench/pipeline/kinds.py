"""Fills :data:`workbench.pipeline.cells.CELL_KINDS`, one module per kind:

- ``restoration`` (:mod:`workbench.pipeline.restoration`): train or load a model, evaluate it on a dataset;
- ``paired`` (:mod:`workbench.pipeline.paired`): train or load a model on degraded/clean pairs (deraining,
  dehazing), evaluate it under its benchmark's metrics;
- ``complexity`` (:mod:`workbench.pipeline.complexity`): FLOPs, parameters, runtime;
- ``fig2`` (:mod:`workbench.pipeline.fig2`): the motivation study of the paper's Fig. 2;
- ``fig1c``, ``fig4``, ``fig6``, ``fig7`` (:mod:`workbench.pipeline.fig1c` …): the analysis figures (feature
  robustness, MV refinement, quantization-step map, qualitative crops), each on a trained model;
- ``raw-restoration``, ``raw-complexity`` (:mod:`workbench.pipeline.raw_restoration`, ``raw_complexity``): raw
  video (CRVD, Table 2 and Table 7's RWD column).
"""

from __future__ import annotations

from workbench.pipeline.cells import CELL_KINDS
from workbench.pipeline.complexity import COMPLEXITY_CELL
from workbench.pipeline.fig1c import FIG1C_CELL
from workbench.pipeline.fig2 import FIG2_CELL
from workbench.pipeline.fig4 import FIG4_CELL
from workbench.pipeline.fig6 import FIG6_CELL
from workbench.pipeline.fig7 import FIG7_CELL
from workbench.pipeline.paired import PAIRED_CELL
from workbench.pipeline.raw_complexity import RAW_COMPLEXITY_CELL
from workbench.pipeline.raw_restoration import RAW_RESTORATION_CELL
from workbench.pipeline.restoration import RESTORATION_CELL

CELL_KINDS.add("restoration", RESTORATION_CELL)
CELL_KINDS.add("paired", PAIRED_CELL)
CELL_KINDS.add("complexity", COMPLEXITY_CELL)
CELL_KINDS.add("fig2", FIG2_CELL)
CELL_KINDS.add("fig1c", FIG1C_CELL)
CELL_KINDS.add("fig4", FIG4_CELL)
CELL_KINDS.add("fig6", FIG6_CELL)
CELL_KINDS.add("fig7", FIG7_CELL)
CELL_KINDS.add("raw-restoration", RAW_RESTORATION_CELL)
CELL_KINDS.add("raw-complexity", RAW_COMPLEXITY_CELL)

__all__ = ["CELL_KINDS"]
