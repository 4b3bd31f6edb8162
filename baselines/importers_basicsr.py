"""Importers for EDVR checkpoints released with BasicSR and MMagic.

- BasicSR files (``EDVR_L_deblur_REDS_official-ca46bd8c.pth`` …) hold ``{"params": state_dict}`` and
  sometimes ``"params_ema"``; the key names are those of :class:`baselines.edvr.EDVR`.
- MMagic (formerly MMEditing) files (``edvrm_x4_8x4_600k_reds_20210625-e29b71b5.pth`` …) hold
  ``{"state_dict": {"generator.<name>": …}}`` with the names of ``mmagic/models/editors/edvr/edvr_net.py``
  (open-mmlab/mmagic commit 0a560bba9b79ebe78574e1d4cbbdd0e798e63568); :data:`MMAGIC_TO_BASICSR` and the
  ConvModule rule below translate them. MMagic's ``EDVRNet`` is the ×4 super-resolution network only
  (no PreDeblur, no ``hr_in``): load those files with ``config="M-sr"``, ``"L-sr"`` or the ``-wotsa``
  variants.

Files are read weights-only (:mod:`workbench.checkpoint`); loading is strict and a mismatch raises one
:class:`~workbench.errors.CheckpointError` line naming the missing/unexpected keys.
"""

from __future__ import annotations

import os
import re

from torch import Tensor

from baselines.edvr import EDVR, EDVRConfig, build_edvr
from workbench.checkpoint import load_strict, read_state_dict, strip_prefix
from workbench.errors import CheckpointError

#: MMagic name prefix → BasicSR name prefix (first match applies)
MMAGIC_TO_BASICSR: tuple[tuple[str, str], ...] = (
    ("feat_l2_conv1.conv.", "conv_l2_1."),
    ("feat_l2_conv2.conv.", "conv_l2_2."),
    ("feat_l3_conv1.conv.", "conv_l3_1."),
    ("feat_l3_conv2.conv.", "conv_l3_2."),
    ("upsample1.upsample_conv.", "upconv1."),
    ("upsample2.upsample_conv.", "upconv2."),
    ("pcd_alignment.", "pcd_align."),
)

#: MMagic layers built as mmcv ``ConvModule`` keep their parameters under an extra ``.conv.``
#: (matched after the prefix renames above); the deformable packs, ``temporal_attn*``,
#: ``spatial_attn5`` and ``spatial_attn_add2`` are plain layers in both layouts.
_MMAGIC_CONV_MODULE = re.compile(
    r"^(pcd_align\.(?:offset_conv[123]\.l[123]|feat_conv\.l[12]|cas_offset_conv[12])"
    r"|fusion\.(?:feat_fusion|spatial_attn[1-4]|spatial_attn_l[1-3]|spatial_attn_add1))\.conv\."
)
_MMAGIC_MARKERS = ("pcd_alignment.", "feat_l2_conv1.", "upsample1.upsample_conv.")


def mmagic_key_to_basicsr(key: str) -> str:
    """Translate one MMagic ``EDVRNet`` parameter name (without ``generator.``) to BasicSR's."""
    for old, new in MMAGIC_TO_BASICSR:
        if key.startswith(old):
            key = new + key[len(old) :]
            break
    return _MMAGIC_CONV_MODULE.sub(r"\1.", key)


def edvr_state_from_file(path: str | os.PathLike[str], *, param_key: str | None = None) -> dict[str, Tensor]:
    """Read an EDVR state dict in BasicSR naming from a BasicSR or MMagic file.

    ``param_key`` picks the inner dict of a BasicSR file (``"params"`` or ``"params_ema"``); by default
    ``"params"`` is used when present (BasicSR's test default), else ``"params_ema"``, else MMagic's
    ``"state_dict"``, else the file itself."""
    inner = (param_key,) if param_key else ("params", "params_ema", "state_dict")
    state = strip_prefix(read_state_dict(path, inner_keys=inner), "module.")
    if any(k.startswith("generator.") for k in state):
        state = {k[len("generator.") :]: v for k, v in state.items() if k.startswith("generator.")}
    if any(k.startswith(_MMAGIC_MARKERS) for k in state):
        state = {mmagic_key_to_basicsr(k): v for k, v in state.items()}
    return state


def load_edvr(
    path: str | os.PathLike[str],
    *,
    config: str | EDVRConfig = "L-deblur",
    param_key: str | None = None,
    use_torchvision: bool | None = None,
) -> EDVR:
    """Build :class:`~baselines.edvr.EDVR` for ``config`` (a name of ``EDVR_CONFIGS`` or an
    :class:`~baselines.edvr.EDVRConfig`) and load the weights of a BasicSR or MMagic file strictly.
    Returns the model in eval mode."""
    state = edvr_state_from_file(path, param_key=param_key)
    model = build_edvr(config, use_torchvision=use_torchvision)
    if model.with_predeblur and not any(k.startswith("predeblur.") for k in state) and any(
        k.startswith("conv_first.") for k in state
    ):
        raise CheckpointError(
            f"{path}: holds an EDVR without PreDeblur (x4 super-resolution model) but config={config!r} "
            "has one; pass config='M-sr', 'L-sr' or a '-wotsa' variant"
        )
    load_strict(model, state, source=str(path))
    return model.eval()


__all__ = ["MMAGIC_TO_BASICSR", "edvr_state_from_file", "load_edvr", "mmagic_key_to_basicsr"]
