"""Fills the registries by explicit imports (no module scanning).

Model ids are the canonical method ids used in results (``fastdvdnet``, ``edvr``, ``basicvsr-uni``,
``basicvsrpp-bi``, ``ncfl``, ...). Each constructor takes typed keyword arguments; the defaults give the
paper-scale configuration.
"""

from __future__ import annotations

import functools

from baselines.basicvsr import BasicVSRBi, BasicVSRUni
from baselines.basicvsrpp import BasicVSRPlusPlusBi, BasicVSRPlusPlusUni
from baselines.edvr import EDVR
from baselines.fastdvdnet import FastDVDNet
from workbench.data.catalog import DATASET_NAMES, open_dataset
from workbench.models.reference import NoisyInput
from workbench.pipeline.cells import CELL_KINDS
from workbench.pipeline.restoration import RESTORATION_CELL
from workbench.registry import DATASETS, MODELS

MODELS.add("noisy-input", NoisyInput)
MODELS.add("fastdvdnet", FastDVDNet)
MODELS.add("edvr", EDVR)  # defaults: EDVR-L deblur (the configuration matching Table 1's cost)
MODELS.add("basicvsr-uni", BasicVSRUni)
MODELS.add("basicvsr-bi", BasicVSRBi)
MODELS.add("basicvsrpp-uni", BasicVSRPlusPlusUni)
MODELS.add("basicvsrpp-bi", BasicVSRPlusPlusBi)

CELL_KINDS.add("restoration", RESTORATION_CELL)

for _name in DATASET_NAMES:
    DATASETS.add(_name, functools.partial(open_dataset, _name))
