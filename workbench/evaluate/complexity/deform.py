"""Closed-form cost of the (modulated) deformable convolution, DCNv1/v2 (Dai et al. 2017; Zhu et al. 2019).

For an output of ``N × C_out × H_out × W_out`` with kernel ``k_h × k_w`` (``K = k_h·k_w`` taps), ``C_in``
input channels, ``groups`` weight groups and ``dg`` deformable (offset) groups::

    MACs = N·H_out·W_out · [ C_out·(C_in/groups)·K          # weight multiplies (as an ordinary conv)
                           + C_in·K·(4 + m)                  # bilinear sample of every tap (4) + mask (m)
                           + dg·K·6 ]                        # per sampling point: un-normalise 2 + weights 4
           + N·C_out·H_out·W_out  if bias                    # bias add

with ``m = 1`` for the modulated (DCNv2) variant and 0 otherwise. The per-element sampling cost is the
same as for ``grid_sample`` in :mod:`.handlers`. The offset/mask-predicting convolutions are ordinary
convolutions and are counted by the op-level counter, not here.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from workbench.evaluate.complexity.dispatch import FunctionRule


def deform_conv_macs(
    *,
    batch: int,
    in_channels: int,
    out_channels: int,
    kernel_size: tuple[int, int],
    out_hw: tuple[int, int],
    groups: int = 1,
    deform_groups: int = 1,
    modulated: bool = True,
    bias: bool = True,
) -> float:
    """MACs of one deformable convolution (formula in the module docstring)."""
    k = math.prod(kernel_size)
    pixels = batch * out_hw[0] * out_hw[1]
    per_pixel = out_channels * (in_channels // groups) * k + in_channels * k * (4 + int(modulated))
    per_pixel += deform_groups * k * 6
    return float(pixels * per_pixel + (pixels * out_channels if bias else 0))


def _macs_from_call(params: dict[str, Any], output: Any) -> float:
    """Closed form from the arguments of ``modulated_deform_conv2d(input, offset, mask, weight, ...)``."""
    x, offset, mask, weight = params["input"], params["offset"], params["mask"], params["weight"]
    y = output[0] if isinstance(output, tuple | list) else output
    assert isinstance(y, Tensor)
    kh, kw = int(weight.shape[2]), int(weight.shape[3])
    return deform_conv_macs(
        batch=int(x.shape[0]),
        in_channels=int(x.shape[1]),
        out_channels=int(weight.shape[0]),
        kernel_size=(kh, kw),
        out_hw=(int(y.shape[-2]), int(y.shape[-1])),
        groups=int(x.shape[1]) // int(weight.shape[1]),
        deform_groups=int(offset.shape[1]) // (2 * kh * kw),
        modulated=mask is not None,
        bias=params.get("bias") is not None,
    )


def deform_rules() -> list[FunctionRule]:
    """The rule for :func:`workbench.ops.deform_conv.modulated_deform_conv2d` (empty if it is absent)."""
    try:
        from workbench.ops.deform_conv import modulated_deform_conv2d  # optional: absent op, no rule
    except ImportError:
        return []
    return [FunctionRule(name="deform_conv", function=modulated_deform_conv2d, macs=_macs_from_call)]
