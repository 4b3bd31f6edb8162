"""The interface every restoration network in the workbench implements.

Conventions (all models, all layers):

- frames are ``float32`` tensors in ``[0, 1]`` (RGB) or normalised packed raw (4 channels, GBRG → see
  :mod:`workbench.data.raw`), laid out ``(N, T, C, H, W)`` for clips and ``(N, C, H, W)`` for frames;
- ``noise_map`` is ``(N, 1, H, W)`` or ``(N, C, H, W)``: the noise standard deviation on the [0, 1] scale
  (σ/255 for AWGN). Blind models ignore it.

Temporal modes (class attribute ``temporal_mode``):

- ``"window"``: ``forward(clip)`` with ``T == window`` returns the restored **centre** frame ``(N, C, H, W)``.
  Streaming inference slides the window with reflected indices at the borders (FastDVDNet protocol).
- ``"recurrent"``: uni-directional. ``step(frame, state, noise_map)`` returns ``(restored, new_state)``;
  ``forward(clip)`` loops ``step`` and returns ``(N, T, C, H, W)``. Streaming inference carries the state,
  so memory is constant in sequence length.
- ``"clip"``: bi-directional. ``forward(clip)`` returns ``(N, T, C, H, W)``. Streaming inference runs the
  whole sequence in one pass, or (to bound memory) chunks of ``chunk_len`` frames with ``chunk_overlap``
  frames of context on each side; the rule is recorded with the results.

A model whose training loss has an extra term (NCFL's cross-entropy, eq. 4) returns a
:class:`RestorationOutput` from ``forward`` with ``aux`` holding named scalar tensors; the training loop
adds ``weight × aux[name]`` as configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn


@dataclass
class RestorationOutput:
    """Restored frames, auxiliary loss terms (e.g. ``{"ce_bpp": ...}``) and ``stats``: detached scalar
    diagnostics for the training log (e.g. NCFL's ``zero_bin_share``), never part of the loss."""

    frames: Tensor
    aux: dict[str, Tensor] = field(default_factory=dict)
    stats: dict[str, Tensor] = field(default_factory=dict)


def output_frames(out: Tensor | RestorationOutput) -> Tensor:
    return out.frames if isinstance(out, RestorationOutput) else out


class RestorationModel(nn.Module):
    """Base class: declares the temporal mode and the input it needs."""

    temporal_mode: ClassVar[str] = "window"
    #: number of input frames for window models (ignored otherwise)
    window: int = 1
    #: whether ``noise_map`` is used (non-blind)
    uses_noise_map: ClassVar[bool] = False
    #: channels of the frames the model consumes (3 RGB, 4 packed raw)
    in_channels: int = 3

    #: window models whose front end over a run of ``feature_span`` consecutive window frames does not
    #: depend on the rest of the window set this and implement ``frame_features`` and
    #: ``from_frame_features``: streaming inference then computes each run's features once instead of once
    #: per window that holds it (:func:`workbench.evaluate.infer.restore_stream`). EDVR: span 1 (a frame's
    #: pyramid); FastDVDNet: span 3 (stage 1 on a frame triplet). The noise map must be the same for every
    #: window of a stream (a σ map), as it is passed to the run's features once.
    caches_frame_features: ClassVar[bool] = False
    feature_span: ClassVar[int] = 1
    #: memory format of the weights during streaming CPU inference (:func:`workbench.evaluate.infer.restore_stream`):
    #: ``"channels_last"`` stores every 4-D weight NHWC for the stream, so oneDNN runs the convolutions
    #: channels-last (their outputs follow the weight's format); the function computed is the same, the
    #: summation order is not (outputs agree to ~1e-6). Opt-in per model where ``workbench bench format``
    #: measured it faster; training never changes format.
    inference_memory_format: ClassVar[str] = "contiguous"

    def step(
        self, frame: Tensor, state: Any, noise_map: Tensor | None = None
    ) -> tuple[Tensor | RestorationOutput, Any]:  # pragma: no cover - recurrent models override
        raise NotImplementedError(f"{type(self).__name__} is not recurrent")

    def frame_features(self, frames: Tensor, noise_map: Tensor | None = None) -> Any:  # pragma: no cover
        """Features of ``feature_span`` consecutive window frames ``(N, span, C, H, W)`` (size-padded as the
        window is), reusable by every window that holds the run; caching window models override."""
        raise NotImplementedError(f"{type(self).__name__} does not cache frame features")

    def from_frame_features(self, feats: list[Any], clip: Tensor,
                            noise_map: Tensor | None = None) -> Tensor:  # pragma: no cover - see above
        """The window output from the ``window − feature_span + 1`` runs' :meth:`frame_features` (run ``i``
        starts at window position ``i``) and the clip ``(N, window, C, H, W)`` itself; equals
        ``forward(clip, noise_map)``."""
        raise NotImplementedError(f"{type(self).__name__} does not cache frame features")


def forward_by_steps(model: RestorationModel, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
    """The clip form of a recurrent model: ``step`` over ``clip`` (N, T, C, H, W) → frames (N, T, C, H, W)."""
    state: Any = None
    outs = []
    for t in range(clip.shape[1]):
        out, state = model.step(clip[:, t], state, noise_map)
        outs.append(output_frames(out))
    return torch.stack(outs, dim=1)


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def zero_state_like(x: Tensor, channels: int) -> Tensor:
    n, _, h, w = x.shape
    return torch.zeros(n, channels, h, w, dtype=x.dtype, device=x.device)
