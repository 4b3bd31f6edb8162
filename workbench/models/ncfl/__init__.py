"""NCFL, the paper's method (Huang et al., CVPR 2022): see :mod:`workbench.models.ncfl.model`.

Modules: ``mvr`` (MV refinement), ``attention`` (feature attention), ``quantization`` (eq. 2),
``entropy`` (eqs. 4–5), ``compression`` (eqs. 1–5, prior model), ``restoration`` (U-Net / W-Net with
CABs), ``refine`` (one propagation direction), ``model`` (NCFL, NCFLBi), ``presets``.
"""

from workbench.models.ncfl.model import NCFL, NCFLBi, NCFLState
from workbench.models.ncfl.presets import PRESET_NAMES, build_ncfl, ncfl_preset, preset_class, smoke_sized

__all__ = [
    "NCFL", "NCFLBi", "NCFLState", "PRESET_NAMES", "build_ncfl", "ncfl_preset", "preset_class", "smoke_sized",
]
