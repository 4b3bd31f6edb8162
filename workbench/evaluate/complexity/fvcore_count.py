"""fvcore's ``FlopCountAnalysis`` as a third, independent count beside the thop-style and dispatch counts.

fvcore (pinned: 0.1.5.post20221221) traces the model with ``torch.jit.trace`` on real tensors and counts
with its own per-operator handles; it counts one fused multiply-add as one flop, so its totals are MACs
(``macs``) and compare with ``macs_paper`` / ``macs_full`` of :mod:`.count`. What it has no handle for is
listed, never silently zero: ``unsupported_ops`` (operator → calls), e.g. elementwise ops, activations and
``prim::PythonOp._NativeDeformConv`` (``._DeformConv`` on the plain path) — the deformable convolution is a
custom ``autograd.Function``, one opaque node of the trace, just as the compiled torchvision/mmcv op is; so
fvcore's figure, like the paper's, leaves out the main deformable convolution (docs/complexity.md §1).

Per output frame with the rule of :mod:`.count`: ``"window"`` models one forward of a ``window``-frame
clip, ``"recurrent"`` and ``"clip"`` models ``cost(T) − cost(T−1)`` with ``T = steady_frames``. Inputs
are float32 ``(1, T, C, H, W)`` (plus the ``(1, 1, H, W)`` noise map of non-blind models) at the requested
resolution rounded up to ``size_multiple``; tracing runs the model, so count on CPU at a small size (the
counts scale with the pixels).
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # fvcore scripts helpers with torch.jit.script
    from fvcore.nn import FlopCountAnalysis  # type: ignore[import-untyped]

from workbench.errors import ConfigError
from workbench.evaluate.complexity.count import InputSpec, counted_resolution
from workbench.models.base import output_frames


@dataclass
class FvcoreCount:
    """fvcore's MACs per output frame at ``counted_resolution`` ``(H, W)`` and what it could not count."""

    method: str
    macs: float
    counted_resolution: tuple[int, int]
    per_frame_rule: str
    #: operator → calls (of the T-frame run for recurrent and clip models)
    unsupported_ops: dict[str, int] = field(default_factory=dict)

    def unsupported_text(self) -> str:
        """``name:calls;...`` sorted by name (empty when fvcore had a handle for everything)."""
        return ";".join(f"{k}:{v}" for k, v in sorted(self.unsupported_ops.items()))


class _Frames(nn.Module):
    """The model with a tensor output (jit tracing takes no dataclass): restored frames only."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, clip: Tensor, noise: Tensor | None = None) -> Tensor:
        out = self.model(clip) if noise is None else self.model(clip, noise)
        return output_frames(out)


def _analyse(model: nn.Module, spec: InputSpec, frames: int) -> tuple[float, Counter[str]]:
    h, w = counted_resolution(model, spec)
    c = spec.channels or int(getattr(model, "in_channels", 3))
    use_noise = bool(getattr(model, "uses_noise_map", False)) if spec.noise_map is None else spec.noise_map
    gen = torch.Generator().manual_seed(0)
    clip = torch.rand(1, frames, c, h, w, generator=gen)
    inputs = (clip, torch.full((1, 1, h, w), 0.1)) if use_noise else (clip,)
    analysis = FlopCountAnalysis(_Frames(model), inputs)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings of data-dependent Python (shapes, chunk windows)
        total = float(analysis.total())
    return total, Counter(analysis.unsupported_ops())


@torch.no_grad()
def fvcore_count(method: str, model: nn.Module, spec: InputSpec | None = None) -> FvcoreCount:
    """Count ``model`` (moved to CPU, eval mode) per output frame with fvcore (rule in the module docstring);
    ``spec`` defaults to 64×64."""
    spec = spec or InputSpec(height=64, width=64)
    model = model.to("cpu").eval()
    mode = str(getattr(model, "temporal_mode", "window"))
    if mode == "window":
        window = int(getattr(model, "window", 1))
        macs, unsupported = _analyse(model, spec, window)
        rule = f"one forward of a {window}-frame window"
    elif mode in ("recurrent", "clip"):
        t = spec.steady_frames
        if t < 2:
            raise ConfigError(f"{method}: steady_frames must be >= 2, got {t}")
        m1, unsupported = _analyse(model, spec, t)  # unsupported: the calls of the T-frame run
        m0, _ = _analyse(model, spec, t - 1)
        macs = m1 - m0
        rule = f"cost(T={t}) - cost(T={t - 1})"
    else:
        raise ConfigError(f"{method}: unknown temporal_mode {mode!r}")
    return FvcoreCount(method=method, macs=macs, counted_resolution=counted_resolution(model, spec),
                       per_frame_rule=rule, unsupported_ops=dict(unsupported))
