"""The model registry, filled by explicit imports (no module scanning), and :func:`build_model`.

Model ids are the canonical method ids used in results (``fastdvdnet``, ``edvr``, ``basicvsr-uni``,
``basicvsrpp-bi``, ``ncfl``, ...). Each constructor takes typed keyword arguments; the defaults give the
paper-scale configuration. Datasets register themselves in :mod:`workbench.data.catalog`, cell kinds in
:mod:`workbench.pipeline.kinds`; this module registers models only.
"""

from __future__ import annotations

from typing import Any

import torch

from baselines.basicvsr import BasicVSRBi, BasicVSRUni
from baselines.basicvsrpp import BasicVSRPlusPlusBi, BasicVSRPlusPlusUni
from baselines.edvr import EDVR
from baselines.emvd import EMVD, emvd_l, emvd_s
from baselines.fastdvdnet import FastDVDNet
from baselines.raw_variants import RAW_MODELS
from baselines.rvidenet import RViDeNet
from workbench.errors import ConfigError
from workbench.models.base import RestorationModel
from workbench.models.ncfl.model import NCFL, NCFLBi
from workbench.models.ncfl.presets import ncfl_model
from workbench.models.reference import NoisyInput
from workbench.plugins import resolve
from workbench.registry import MODELS

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
# raw video (Table 2): packed 4-plane models; NCFL raw is `ncfl` with in_channels: 4 (preset L = "Ours-L")
MODELS.add("emvd", EMVD)  # any width/depth; emvd-s / emvd-l are the two configurations of Table 2
MODELS.add("emvd-s", emvd_s)
MODELS.add("emvd-l", emvd_l)
MODELS.add("rvidenet", RViDeNet)
for _raw_id, _raw_ctor in RAW_MODELS.items():  # fastdvdnet-raw, edvr-raw, basicvsr-uni-raw, basicvsrpp-uni-raw
    MODELS.add(_raw_id, _raw_ctor)


def build_model(model_id: str, args: dict[str, Any], *, seed: int, where: str) -> RestorationModel:
    """Construct registry model ``model_id`` with typed keyword ``args``; weights initialised from ``seed``.

    ``model_id`` may also name a plugin (an entry point of ``ncfl_workbench.models`` or ``module:factory``,
    see :mod:`workbench.plugins`). ``where`` names the config that asked for it (``file: key``) in the
    one-line error raised when the constructor rejects an argument or the object is not a :class:`RestorationModel`."""
    ctor = resolve(model_id, where=where)
    torch.manual_seed(seed)
    try:
        model = ctor(**args)
    except TypeError as exc:
        raise ConfigError(f"{where}: model {model_id!r} rejects its arguments ({exc})") from None
    if not isinstance(model, RestorationModel):
        raise ConfigError(f"{where}: {model_id!r} is not a restoration model")
    return model


__all__ = ["MODELS", "build_model"]
