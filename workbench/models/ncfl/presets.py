"""Named NCFL configurations (the paper's ablations and variants) as constructor keyword arguments.

``ncfl_preset(name)`` returns the **complete** keyword arguments of :class:`~workbench.models.ncfl.NCFL`
(or :class:`~workbench.models.ncfl.NCFLBi` for ``"bi"``; see :func:`preset_class`); ``build_ncfl`` builds
one. Data-dependent arguments (``in_channels`` 4 for CRVD raw, ``blind``/``noise_map_channels``) are the
defaults (RGB, blind) and are overridden by the caller.

============  ==========================================================  =========================
name          switches (everything else = the calibrated default)          paper
============  ==========================================================  =========================
``Md``        MVR + FA + NCFL-AdapQ with CE (= ``default``, ``M3``)         Table 5 M_d; Table 7 M_3
``Ma``        no MVR, no FA, ``ncfl="off"``                                 Table 5 M_a (baseline)
``Mb``        MVR only                                                      Table 5 M_b
``Mc``        MVR + NCFL-AdapQ (no FA)                                      Table 5 M_c
``adapq``     = ``Mc``: Table 6 says "NCFL-AdapQ is [...] M_c in Table 5"   Table 6
``fixedq``    ``Mc`` with ``ncfl="fixedq"`` (q = 1 constant)                Table 6 NCFL-FixedQ
``noq``       ``Mc`` with ``ncfl="noq"`` (auto-encoder, no quantizer)       Table 6 NCFL-NoQ
``M1``        ``Md`` without NCFL (``ncfl="off"``; MVR and FA kept)         Table 7 M_1
``M2``        ``Md`` with ``ce=False`` (quantizes; no rate term in aux)     Table 7 M_2
``bi``        ``Md`` as :class:`NCFLBi`                                     Table 8
``L``         ``Md`` with ``restoration="wnet"`` (used with raw input)      Table 2 "Ours-L"
``dehaze``    ``Md`` with U-Net widths (48, 96, 192, 384): 15.8 M params    Sec. 5.4 (16 M)
``smoke``     ``Md`` scaled by :func:`smoke_sized` (CPU pipelines, tests)   —
============  ==========================================================  =========================

Note ``M1`` keeps FA (Table 7's M_3 equals Table 5's M_d, so M_1 is M_d minus NCFL, not M_b).
"""

from __future__ import annotations

import inspect
from typing import Any

from workbench.errors import ConfigError
from workbench.models.ncfl.model import NCFL, NCFLBi, _NCFLBase

_MC = {"mvr": True, "fa": False, "ncfl": "adapq"}
_OVERRIDES: dict[str, dict[str, Any]] = {
    "Md": {},
    "default": {},
    "M3": {},
    "Ma": {"mvr": False, "fa": False, "ncfl": "off"},
    "Mb": {"mvr": True, "fa": False, "ncfl": "off"},
    "Mc": dict(_MC),
    "adapq": dict(_MC),
    "fixedq": {**_MC, "ncfl": "fixedq"},
    "noq": {**_MC, "ncfl": "noq"},
    "M1": {"ncfl": "off"},
    "M2": {"ce": False},
    "bi": {},
    "L": {"restoration": "wnet"},
    "dehaze": {"unet_channels": (48, 96, 192, 384)},
    "smoke": {},
}
PRESET_NAMES: tuple[str, ...] = tuple(_OVERRIDES)
#: widths that :func:`smoke_sized` scales
WIDTH_KEYS = (
    "unet_channels", "mvr_channels", "fa_channels", "codec_channels", "latent_channels", "hyper_channels",
)
SMOKE_WIDTH_SCALE = 0.25


def default_kwargs() -> dict[str, Any]:
    """The constructor defaults of NCFL (the calibrated ``Md`` configuration)."""
    sig = inspect.signature(_NCFLBase.__init__)
    return {n: p.default for n, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def smoke_sized(
    kwargs: dict[str, Any], width_scale: float = SMOKE_WIDTH_SCALE, *, cab_blocks: int = 1
) -> dict[str, Any]:
    """``kwargs`` with every width multiplied by ``width_scale`` (at least 4 channels) and ``cab_blocks``
    CABs per U-Net stage; switches are unchanged, so a smoke model has the same graph, only narrower."""
    out = dict(kwargs)
    for key in WIDTH_KEYS:
        if key not in out:
            continue
        if key == "unet_channels":
            out[key] = tuple(max(4, round(c * width_scale)) for c in out[key])
        else:
            out[key] = max(4, round(out[key] * width_scale))
    out["cab_blocks"] = cab_blocks
    return out


def ncfl_preset(name: str) -> dict[str, Any]:
    """Complete constructor keyword arguments of preset ``name`` (see the module table)."""
    if name not in _OVERRIDES:
        raise ConfigError(f"unknown NCFL preset {name!r}; known: {', '.join(PRESET_NAMES)}")
    kwargs = {**default_kwargs(), **_OVERRIDES[name]}
    return smoke_sized(kwargs) if name == "smoke" else kwargs


def preset_class(name: str) -> type[NCFL] | type[NCFLBi]:
    """``NCFLBi`` for ``"bi"``, ``NCFL`` otherwise."""
    return NCFLBi if name == "bi" else NCFL


def build_ncfl(name: str, *, width_scale: float = 1.0, **overrides: Any) -> NCFL | NCFLBi:
    """Build preset ``name``; ``width_scale != 1`` applies :func:`smoke_sized` (keeping ``cab_blocks``
    unless overridden); ``overrides`` replace constructor arguments (unknown names raise ConfigError)."""
    kwargs = ncfl_preset(name)
    if width_scale != 1.0:
        kwargs = smoke_sized(kwargs, width_scale, cab_blocks=kwargs["cab_blocks"])
    unknown = sorted(set(overrides) - set(kwargs))
    if unknown:
        raise ConfigError(f"NCFL preset {name!r}: unknown argument(s) {unknown}; known: {sorted(kwargs)}")
    kwargs.update(overrides)
    return preset_class(name)(**kwargs)


def ncfl_model(*, preset: str = "Md", width_scale: float = 1.0, **overrides: Any) -> NCFL | NCFLBi:
    """Registry constructor (id ``ncfl``): the preset of a paper row (``Ma`` … ``Md``, ``adapq``, ``fixedq``,
    ``noq``, ``M1``–``M3``, ``bi``, ``L``, ``dehaze``), optionally narrowed by ``width_scale`` for CPU smoke
    runs, with typed constructor overrides."""
    if preset not in PRESET_NAMES:
        raise ConfigError(f"unknown NCFL preset {preset!r}; known: {', '.join(PRESET_NAMES)}")
    return build_ncfl(preset, width_scale=width_scale, **overrides)


def smoke_default() -> NCFL | NCFLBi:
    """The default model (M_d) at smoke width: a zero-argument constructor for benchmarks and tests."""
    return build_ncfl("Md", width_scale=SMOKE_WIDTH_SCALE, cab_blocks=1)
