"""Fig. 2, the paper's motivation study (§3): x265 vs a learned codec as denoisers of noisy video.

The ``fig2`` cell kind that runs it is :mod:`workbench.pipeline.fig2`.
"""

from workbench.evaluate.fig2.params import Fig2Params
from workbench.evaluate.fig2.study import Trainer, input_checksums, run_fig2, train_here

__all__ = ["Fig2Params", "Trainer", "input_checksums", "run_fig2", "train_here"]
