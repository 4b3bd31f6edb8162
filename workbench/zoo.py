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
from workbench.evaluate.codec import CODEC_STUDY_CELL
from workbench.evaluate.complexity import COMPLEXITY_CELL
from workbench.models.ncfl.model import NCFL, NCFLBi
from workbench.models.ncfl.presets import ncfl_model
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
MODELS.add("ncfl-uni", NCFL)  # the paper's default denoiser (Table 5 M_d), calibrated to 771 GFLOPs
MODELS.add("ncfl-bi", NCFLBi)  # Table 8, calibrated to 1522 GFLOPs
MODELS.add("ncfl", ncfl_model)  # any preset: model_args {preset: Ma|Mb|Mc|Md|adapq|fixedq|noq|M1|M2|M3|bi|L|dehaze}

CELL_KINDS.add("restoration", RESTORATION_CELL)
CELL_KINDS.add("complexity", COMPLEXITY_CELL)
CELL_KINDS.add("codec_study", CODEC_STUDY_CELL)

for _name in DATASET_NAMES:
    DATASETS.add(_name, functools.partial(open_dataset, _name))
