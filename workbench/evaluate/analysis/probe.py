"""Read NCFL's intermediate tensors with forward hooks (the model is not changed).

:class:`RefinerProbe` hooks the :class:`~workbench.models.ncfl.refine.FeatureRefiner` of a uni-directional
:class:`~workbench.models.ncfl.NCFL` and, for every refiner call (one per frame ``t ≥ 1``), records a
:class:`StepRecord`:

- ``flow_in``: SPyNet's flow ``mv_t`` on the model's input frames; ``flow_out``: after MVR (``= flow_in``
  without MVR);
- ``before``: the compression module's input (``ĉ_t``, or ``č_t`` after FA when FA is on); ``after``: its
  output ``c~_t``. Without a compression module (``ncfl="off"``) both are the refiner's output;
- ``latent``: ``e_t = g_e · Encoder(č_t)`` before quantization (NoQ: the auto-encoder's code), with the
  prior's ``mu`` and ``step`` (``None`` for NoQ and without compression).

All tensors are detached ``(N, ·, h, w)``. Use as a context manager; :meth:`RefinerProbe.pop` returns the
record of the last step (``None`` when no refiner ran, i.e. at ``t = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from workbench.errors import ConfigError
from workbench.models.ncfl.refine import FeatureRefiner


@dataclass
class StepRecord:
    flow_in: Tensor
    flow_out: Tensor
    before: Tensor
    after: Tensor
    latent: Tensor | None = None
    mu: Tensor | None = None
    step: Tensor | None = None


def refiner_of(model: nn.Module) -> FeatureRefiner:
    """The forward refiner of a uni-directional NCFL, else a ConfigError naming the model."""
    refiner = getattr(model, "refiner", None)
    if not isinstance(refiner, FeatureRefiner):
        raise ConfigError(f"{type(model).__name__}: the feature probe reads a uni-directional NCFL "
                          "(model: ncfl with a uni-directional preset)")
    return refiner


class RefinerProbe:
    """Forward hooks on one refiner; see the module docstring."""

    def __init__(self, model: nn.Module) -> None:
        self.refiner = refiner_of(model)
        self._handles: list[RemovableHandle] = []
        self._pending: dict[str, Tensor | None] = {}
        self._last: StepRecord | None = None

    def __enter__(self) -> RefinerProbe:
        r = self.refiner
        self._handles.append(r.register_forward_hook(self._on_refiner))
        if r.mvr is not None:
            self._handles.append(r.mvr.register_forward_hook(self._on_mvr))
        if r.compression is not None:
            self._handles.append(r.compression.register_forward_hook(self._on_compression))
            self._handles.append(r.compression.encoder.register_forward_hook(self._on_encoder))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _on_mvr(self, _m: nn.Module, _args: Any, out: Tensor) -> None:
        self._pending["flow_out"] = out.detach()

    def _on_encoder(self, _m: nn.Module, _args: Any, out: Tensor) -> None:
        comp = self.refiner.compression
        gain = comp.log_gain.exp() if comp is not None and hasattr(comp, "log_gain") else 1.0
        self._pending["latent"] = (out * gain).detach()

    def _on_compression(self, _m: nn.Module, args: Any, out: Any) -> None:
        self._pending["before"] = args[0].detach()
        self._pending["mu"] = None if out.mu is None else out.mu.detach()
        self._pending["step"] = None if out.step is None else out.step.detach()

    def _on_refiner(self, _m: nn.Module, args: Any, out: Any) -> None:
        p, self._pending = self._pending, {}
        flow_in, after = args[3].detach(), out[0].detach()
        flow_out, before = p.get("flow_out"), p.get("before")
        self._last = StepRecord(flow_in=flow_in, flow_out=flow_in if flow_out is None else flow_out,
                                before=after if before is None else before, after=after,
                                latent=p.get("latent"), mu=p.get("mu"), step=p.get("step"))

    def pop(self) -> StepRecord | None:
        rec, self._last = self._last, None
        return rec
