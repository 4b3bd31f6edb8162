"""The paper's counting convention: thop-style MACs from module hooks (docs/complexity.md §1).

Rules (those of thop 0.1.1, the tool that reproduces the paper's baseline numbers), applied by *exact*
module type, as thop does — a module of any other type contributes nothing itself but its
sub-modules are visited, so the offset convolutions inside a deformable-convolution module are counted
while the deformable convolution itself (no rule) is not:

- ``Conv1d/2d/3d``: ``out_numel × (C_in / groups) × prod(kernel)`` (no bias term);
- ``ConvTranspose1d/2d/3d``: the weight multiplies performed, ``in_numel × (C_out / groups) × prod(kernel)``
  (``transposed="true"``, the default); ``transposed="thop"`` reproduces thop 0.1.1's formula
  ``out_numel × (C_in / groups) × prod(kernel)``, which over-counts by stride²;
- ``Linear``: ``in_features × out_numel``;
- ``BatchNorm*``, ``InstanceNorm*``, ``LayerNorm``, ``SyncBatchNorm``: ``2 × numel`` (× 2 with affine);
- ``PReLU``: ``numel``; ``ReLU``, ``ReLU6``, ``LeakyReLU``: 0;  ``Softmax``: ``rows × (3·n − 1)``;
- ``AvgPool*``: ``out_numel``; ``AdaptiveAvgPool*``: ``(in/out area + 1) × out_numel``; max pools: 0;
- ``Upsample`` modules: ``out_numel ×`` {nearest 1, linear 5, bilinear 11, bicubic 259, trilinear 31}
  (thop's per-element constants; ``F.interpolate`` calls are not modules and are not counted).

Functional ops (``F.conv2d`` in GDN, ``F.grid_sample`` in warping, arithmetic) are invisible here by
design: the full count (:mod:`.dispatch`) covers them. ``uncovered_modules`` lists module types that own
parameters directly but have no rule, so the paper column's blind spots are explicit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn

Rule = Callable[[nn.Module, Tensor, Tensor], float]

_UPSAMPLE_OPS = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259, "trilinear": 31}


def _conv(m: nn.Module, x: Tensor, y: Tensor) -> float:
    assert isinstance(m, nn.modules.conv._ConvNd)
    return float(y.numel() * (x.shape[1] // m.groups) * math.prod(m.kernel_size))


def _conv_transposed(m: nn.Module, x: Tensor, y: Tensor) -> float:
    assert isinstance(m, nn.modules.conv._ConvNd)
    return float(x.numel() * (m.out_channels // m.groups) * math.prod(m.kernel_size))


def _norm(m: nn.Module, x: Tensor, y: Tensor) -> float:
    affine = bool(getattr(m, "affine", False) or getattr(m, "elementwise_affine", False))
    return float(2 * x.numel() * (2 if affine else 1))


def _softmax(m: nn.Module, x: Tensor, y: Tensor) -> float:
    dim = getattr(m, "dim", -1)
    n = x.shape[dim if dim is not None else -1]
    return float((x.numel() // n) * (3 * n - 1))


def _adaptive_avg(m: nn.Module, x: Tensor, y: Tensor) -> float:
    area = math.prod(x.shape[2:]) / max(math.prod(y.shape[2:]), 1)
    return float(int((area + 1) * y.numel()))


def _upsample(m: nn.Module, x: Tensor, y: Tensor) -> float:
    return float(_UPSAMPLE_OPS.get(str(getattr(m, "mode", "nearest")), 0) * y.numel())


def _zero(m: nn.Module, x: Tensor, y: Tensor) -> float:
    return 0.0


def rules(transposed: Literal["true", "thop"] = "true") -> dict[type, Rule]:
    """Module type → MAC rule (exact-type lookup)."""
    table: dict[type, Rule] = {}
    t: type
    for t in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
        table[t] = _conv
    for t in (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
        table[t] = _conv_transposed if transposed == "true" else _conv
    for t in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.LayerNorm,
              nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d):  # fmt: skip
        table[t] = _norm
    table[nn.Linear] = lambda m, x, y: float(m.in_features * y.numel())  # type: ignore[operator]
    table[nn.PReLU] = lambda m, x, y: float(x.numel())
    table[nn.Softmax] = _softmax
    for t in (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d):
        table[t] = lambda m, x, y: float(y.numel())
    for t in (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d):
        table[t] = _adaptive_avg
    for t in (nn.Upsample, nn.UpsamplingBilinear2d, nn.UpsamplingNearest2d):
        table[t] = _upsample
    for t in (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.Dropout,
              nn.ZeroPad2d, nn.PixelShuffle, nn.Identity):  # fmt: skip
        table[t] = _zero
    return table


class PaperCounter:
    """Context manager: thop-style MACs of ``model``'s forward passes run inside it."""

    def __init__(self, model: nn.Module, *, transposed: Literal["true", "thop"] = "true") -> None:
        self.model = model
        self.by_type: defaultdict[str, float] = defaultdict(float)
        self._rules = rules(transposed)
        self._handles: list[Any] = []

    @property
    def total(self) -> float:
        return float(sum(self.by_type.values()))

    def uncovered_modules(self) -> list[str]:
        """Types that own parameters directly (not via children) and have no rule."""
        names = set()
        for m in self.model.modules():
            if type(m) not in self._rules and any(True for _ in m.parameters(recurse=False)):
                names.add(type(m).__name__)
        return sorted(names)

    def _hook(self, rule: Rule) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            x = inputs[0] if inputs else output
            y = output[0] if isinstance(output, tuple | list) else output
            self.by_type[type(module).__name__] += rule(module, x, y)

        return hook

    def __enter__(self) -> PaperCounter:
        for m in self.model.modules():
            rule = self._rules.get(type(m))
            if rule is not None:
                self._handles.append(m.register_forward_hook(self._hook(rule)))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


def count_paper(
    model: nn.Module, run: Callable[[], Any], *, transposed: Literal["true", "thop"] = "true"
) -> PaperCounter:
    counter = PaperCounter(model, transposed=transposed)
    with torch.no_grad(), counter:
        run()
    return counter
