"""The ``fig2`` cell kind (pipelines/fig2.yaml): the motivation study of the paper's Fig. 2.

The work is :func:`workbench.evaluate.fig2.run_fig2`; this module only declares the kind (schema, run,
the inputs that key the cell).
"""

from __future__ import annotations

from workbench.evaluate.fig2 import Fig2Params, input_checksums, run_fig2
from workbench.pipeline.cells import CellKind

FIG2_CELL = CellKind(schema=Fig2Params, run=run_fig2, inputs=input_checksums)

__all__ = ["FIG2_CELL"]
