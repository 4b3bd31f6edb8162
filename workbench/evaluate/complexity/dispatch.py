"""Full MAC count at the dispatch level: every aten op the model runs, with coverage.

:class:`FullCounter` is a :class:`~torch.utils._python_dispatch.TorchDispatchMode` (the mechanism behind
``torch.utils.flop_counter.FlopCounterMode``) that looks up each op in :mod:`.handlers`. Unlike
jit-trace-based counters (fvcore), it works on the meta device, sees ops in data-dependent Python
control flow, and cannot lose ops to dead-code elimination. Ops with neither a formula nor a place on the
free list are collected in :attr:`FullCounter.uncounted` (name → calls) rather than silently counted as 0.

*Function rules* replace everything a given Python function dispatches by a closed form (used for the
deformable convolution, whose plain-PyTorch implementation is an implementation detail, see
:mod:`.deform`): while the function runs, its ops are not counted; when it returns, the rule's closed form
— computed from the call's arguments and result — is added under the rule's name. Calls are detected by
code object through :func:`sys.setprofile`, so the rule applies however the function was imported.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from workbench.evaluate.complexity.handlers import formula_for, is_free


@dataclass(frozen=True)
class FunctionRule:
    """Counts calls of ``function`` as ``macs(arguments by name, result)`` instead of their ops."""

    name: str
    function: Callable[..., Any]
    macs: Callable[[dict[str, Any], Any], float]


class FullCounter(TorchDispatchMode):
    """Accumulates MACs per aten op (``by_op``); use as a context manager around the forward pass."""

    def __init__(self, rules: Sequence[FunctionRule] = ()) -> None:
        super().__init__()
        self.by_op: defaultdict[str, float] = defaultdict(float)
        self.uncounted: Counter[str] = Counter()
        self._rules = {r.function.__code__: r for r in rules}
        self._calls: list[tuple[FrameType, dict[str, Any]]] = []
        self._previous_profile: Any = None

    @property
    def total(self) -> float:
        return float(sum(self.by_op.values()))

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = _fast_meta(func, args)
        if out is None:
            out = func(*args, **kwargs)
        if self._calls:
            return out
        name = func.overloadpacket.__name__
        formula = formula_for(name)
        if formula is not None:
            self.by_op[name.rstrip("_") or name] += formula(args, kwargs, out)
        elif not is_free(name):
            self.uncounted[f"aten.{name}"] += 1
        return out

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        rule = self._rules.get(frame.f_code)
        if rule is None:
            return
        if event == "call":
            self._calls.append((frame, dict(frame.f_locals)))
        elif event == "return" and self._calls and self._calls[-1][0] is frame:
            _, params = self._calls.pop()
            if arg is not None and not self._calls:
                self.by_op[rule.name] += rule.macs(params, arg)

    def __enter__(self) -> FullCounter:
        if self._rules:
            self._previous_profile = sys.getprofile()
            sys.setprofile(self._profile)
        super().__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        if self._rules:
            try:
                sys.setprofile(self._previous_profile)
            except TypeError:  # a C-level profiler (cProfile) cannot be re-installed from Python
                sys.setprofile(None)
        self._calls.clear()


_aten = torch.ops.aten
#: out-of-place unary float ops whose result has the input's shape and dtype
_UNARY_SAME = {_aten.relu.default, _aten.leaky_relu.default, _aten.sigmoid.default, _aten.tanh.default,
               _aten.gelu.default, _aten.silu.default, _aten.hardtanh.default}
_RESIZE = {_aten.upsample_bilinear2d.default, _aten.upsample_nearest2d.default,
           _aten.upsample_bicubic2d.default}


def _fast_meta(func: Any, args: Any) -> torch.Tensor | None:
    """Shape-only results on the meta device for ops whose meta kernels are slow Python decompositions
    (grid sampling, resizing, activations); everything else runs its own meta kernel."""
    if not args or not isinstance(args[0], torch.Tensor) or args[0].device.type != "meta":
        return None
    x = args[0]
    if func is _aten.grid_sampler_2d.default:
        return x.new_empty((x.shape[0], x.shape[1], args[1].shape[1], args[1].shape[2]))
    if func in _RESIZE and len(args) > 1 and args[1] is not None:
        return x.new_empty((*x.shape[:2], *args[1]))
    if func in _UNARY_SAME and x.is_floating_point() and x.is_contiguous():
        return x.new_empty(x.shape)
    return None


def count_full(run: Callable[[], Any], rules: Sequence[FunctionRule] = ()) -> FullCounter:
    """Run ``run()`` (a closure calling the model) under a :class:`FullCounter` without autograd."""
    counter = FullCounter(rules)
    with torch.no_grad(), counter:
        run()
    return counter
