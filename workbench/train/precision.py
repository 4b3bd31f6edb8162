"""Arithmetic of the training step: ``precision: fp32`` (the default) or ``bf16``.

``bf16``: the model's forward pass runs under ``torch.autocast(device_type, dtype=torch.bfloat16)`` on CUDA
and on CPU (autocast picks per operator: convolutions and matrix products in bf16, reductions and the
numerically fragile operators in fp32). Kept in fp32, whatever the key says:

- the weights, their gradients and Adam's moments (autocast casts copies, it does not change parameters);
- NCFL's entropy model: hyper-prior, prior, quantizer, likelihoods (eq. 5) and rate (eq. 4), computed with
  autocast disabled on fp32 inputs (:meth:`workbench.models.ncfl.compression.NeuralCompression.forward`);
- the loss: the L2 term is reduced outside autocast on the output cast to fp32, and the auxiliary terms
  (NCFL's ``ce_bpp``) are fp32 (:func:`workbench.train.loop.train`).

No gradient scaler is needed: bf16 has fp32's exponent range. With ``fp32`` nothing is entered and nothing
is cast, so the step is bit-identical to the step before this key existed.
"""

from __future__ import annotations

import contextlib

import torch

from workbench.errors import ConfigError
from workbench.train.spec import PRECISIONS

#: the autocast dtype of each precision other than fp32
AUTOCAST_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16}


def autocast(precision: str, device: str | torch.device) -> contextlib.AbstractContextManager[object]:
    """The context the forward pass runs in: nothing for ``fp32``, autocast to bf16 for ``bf16``."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision: {precision!r} is not one of {list(PRECISIONS)}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=AUTOCAST_DTYPES[precision])
