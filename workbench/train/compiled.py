"""``train.compile: true``: the training step's network wrapped in ``torch.compile`` (opt-in, default off).

:func:`maybe_compile` returns the module itself when the key is off (the step is then exactly the step
before this key existed) and ``torch.compile(module)`` (inductor, default mode) when it is on. The
parameters are the module's own, so the optimiser, checkpoints and the published weights are unchanged;
only the forward and backward run as generated kernels, whose fused arithmetic may differ from eager in
the last bits (hence the key is part of the config hash when set). The first step pays the compilation
(tens of seconds on CPU; inductor needs a C++ compiler there) and a new input shape recompiles.

Measured (docs/scaling.md, "torch.compile"; 1 thread, batch 2 of 64×64 clips): steady-state steps run
1.17–1.21× faster compiled (FastDVDNet at width 8: 6.16 → 7.47 steps/s; NCFL ``Md`` at width 0.125: 2.80 →
3.28), but compiling took 138 s and 385 s, repaid only after about 4,900 and 7,400 steps: on this CPU it
does not pay for a training of the mini profile's length. It is meant for long runs (on a GPU, to be
measured there).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn


def maybe_compile(module: nn.Module, enabled: bool) -> nn.Module:
    """``torch.compile(module)`` if ``enabled``, else ``module`` unchanged."""
    if not enabled:
        return module
    return cast(nn.Module, torch.compile(module))
