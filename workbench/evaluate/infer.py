"""Streaming sequence inference in constant memory.

``restore_stream(model, degraded, num_frames, ...)`` yields ``(t, restored)`` for ``t = 0 .. T−1`` with
``restored`` a float32 ``(H, W, C)`` array (not clamped; metrics clamp). ``degraded(t)`` returns the
degraded frame ``t`` as float32 ``(H, W, C)`` and is called at most a bounded number of times per frame.

- window models: frame ``t`` is restored from frames ``t−k .. t+k`` (``k = window // 2``) with indices
  reflected at the borders (``−1 → 1``, ``T → T−2``; the FastDVDNet protocol); only ``window`` frames
  are held at once. A model with ``caches_frame_features`` computes the front-end features of each run of
  ``feature_span`` consecutive window frames once (EDVR: a frame's pyramid; FastDVDNet: stage 1 on a
  triplet, reflected runs such as (2, 1, 0) included) and keeps those the window still holds
  (:class:`~workbench.models.base.RestorationModel`).
- recurrent models: the state is carried from frame to frame; one frame is held at once.
- clip (bi-directional) models: by default the **whole sequence** in one forward pass (``chunk_len =
  None``), as the uni-directional models keep their state over the whole sequence and as the paper's
  bi-directional setting implies (every output sees every frame). Chunking is a memory limit the user
  sets: chunks of ``chunk_len`` output frames, each processed with ``chunk_overlap`` extra frames of
  context on both sides (clipped at the sequence ends). The rule in force (:func:`chunking_rule`) is
  recorded in every result row, because it changes the PSNR of bi-directional models. Memory of the
  whole-sequence pass grows with the sequence (85 frames at 960×540 fit a GPU, not this CPU's defaults).

Memory format: a model whose ``inference_memory_format`` is ``"channels_last"`` runs with its weights in
that format for the stream on a CPU (restored to their format afterwards, also on error); the frames stay
NCHW, and each convolution's output follows its weight's format.

Spatial size: inputs are reflect-padded to a multiple of ``model.size_multiple`` (default 1) and the
outputs cropped back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from workbench.degrade.awgn import noise_map
from workbench.models.base import RestorationModel, output_frames

FrameFn = Callable[[int], np.ndarray]


def reflect_index(i: int, n: int) -> int:
    """Reflect ``i`` into ``[0, n)`` without repeating the border frame (``−1 → 1``)."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i = abs(i) % period
    return period - i if i >= n else i


def chunking_rule(chunk_len: int | None, chunk_overlap: int) -> str:
    """How a clip model was run over a sequence, in words (recorded with every result row)."""
    if chunk_len is None:
        return "whole sequence in one pass"
    return f"chunks of {chunk_len} frames with {chunk_overlap} context frames each side"


def _to_tensor(frame: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1))).unsqueeze(0).to(device)


def _pad(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    lead = x.shape[:-3]
    flat = x.reshape(-1, *x.shape[-3:])
    flat = F.pad(flat, (0, pw, 0, ph), mode="reflect")
    return flat.reshape(*lead, *flat.shape[-3:]), (h, w)


def _to_numpy(y: torch.Tensor, hw: tuple[int, int]) -> np.ndarray:
    h, w = hw
    return y[..., :h, :w].squeeze(0).permute(1, 2, 0).cpu().numpy().astype(np.float32)


@contextlib.contextmanager
def inference_format(model: RestorationModel, device: torch.device) -> Iterator[None]:
    """Hold ``model``'s 4-D weights in its ``inference_memory_format`` inside the block (CPU only), then
    give them back their own format; a no-op for ``"contiguous"`` models and other devices."""
    fmt = getattr(model, "inference_memory_format", "contiguous")
    if fmt not in ("contiguous", "channels_last"):
        raise ValueError(f"{type(model).__name__}.inference_memory_format={fmt!r}: use 'contiguous' or 'channels_last'")
    if fmt == "contiguous" or device.type != "cpu":
        yield
        return
    _weights_format(model, torch.channels_last)
    try:
        yield
    finally:
        _weights_format(model, torch.contiguous_format)


def _weights_format(model: torch.nn.Module, fmt: torch.memory_format) -> None:
    """Every 4-D parameter and buffer of ``model`` re-laid in ``fmt`` (what ``Module.to(memory_format=...)`` does)."""
    for t in [*model.parameters(), *model.buffers()]:
        if t.dim() == 4:
            t.data = t.data.contiguous(memory_format=fmt)


@torch.no_grad()
def restore_stream(
    model: RestorationModel,
    degraded: FrameFn,
    num_frames: int,
    *,
    noise_sigma: float | None = None,
    device: str | torch.device = "cpu",
    chunk_len: int | None = None,
    chunk_overlap: int = 2,
    noise_map_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(t, restored_frame)`` for every frame; ``noise_sigma`` on the [0, 255] scale, or
    ``noise_map_fn(x)`` giving the noise map of an input ``x`` ``(N, C, H, W)`` (raw: the ISO's planes).
    The model runs in its ``inference_memory_format`` (module docstring) while the stream is consumed."""
    dev = torch.device(device)
    with inference_format(model, dev):
        yield from _stream(model, degraded, num_frames, noise_sigma=noise_sigma, device=dev, chunk_len=chunk_len,
                           chunk_overlap=chunk_overlap, noise_map_fn=noise_map_fn)


def _stream(
    model: RestorationModel,
    degraded: FrameFn,
    num_frames: int,
    *,
    noise_sigma: float | None,
    device: torch.device,
    chunk_len: int | None,
    chunk_overlap: int,
    noise_map_fn: Callable[[torch.Tensor], torch.Tensor] | None,
) -> Iterator[tuple[int, np.ndarray]]:
    model.eval()
    multiple = int(getattr(model, "size_multiple", 1))

    def noise_map_like(x: torch.Tensor) -> torch.Tensor | None:
        if noise_map_fn is not None:
            return noise_map_fn(x)
        if noise_sigma is None:
            return None
        return noise_map(noise_sigma, height=x.shape[-2], width=x.shape[-1], device=device)

    mode = model.temporal_mode
    if mode == "window":
        k = model.window // 2
        span = model.feature_span if model.caches_frame_features else 0
        cache: dict[int, torch.Tensor] = {}
        feats: dict[tuple[int, ...], object] = {}  # each run of ``span`` frames' features, by frame indices
        for t in range(num_frames):
            idx = [reflect_index(t + d, num_frames) for d in range(-k, k + 1)]
            for j in idx:
                if j not in cache:
                    cache[j] = _to_tensor(degraded(j), device)
            for j in [j for j in cache if j < t - k]:
                del cache[j]
            for run in [r for r in feats if min(r) < t - k]:
                del feats[run]
            clip, hw = _pad(torch.stack([cache[j] for j in idx], dim=1), multiple)
            nmap = noise_map_like(clip)
            if span:
                runs = [tuple(idx[i:i + span]) for i in range(len(idx) - span + 1)]
                for i, run in enumerate(runs):
                    if run not in feats:
                        feats[run] = model.frame_features(clip[:, i:i + span], nmap)
                out = output_frames(model.from_frame_features([feats[r] for r in runs], clip, nmap))
            else:
                out = output_frames(model(clip, nmap))
            yield t, _to_numpy(out, hw)
    elif mode == "recurrent":
        state = None
        for t in range(num_frames):
            x, hw = _pad(_to_tensor(degraded(t), device), multiple)
            step_out, state = model.step(x, state, noise_map_like(x))
            yield t, _to_numpy(output_frames(step_out), hw)
    elif mode == "clip":
        step = num_frames if chunk_len is None else chunk_len
        if step < 1:
            raise ValueError(f"chunk_len={chunk_len}: use None (whole sequence) or a positive number of frames")
        for start in range(0, num_frames, step):
            stop = min(start + step, num_frames)
            lo, hi = max(0, start - chunk_overlap), min(num_frames, stop + chunk_overlap)
            clip, hw = _pad(torch.stack([_to_tensor(degraded(j), device) for j in range(lo, hi)], dim=1), multiple)
            out = output_frames(model(clip, noise_map_like(clip[:, 0])))
            for j in range(start, stop):
                yield j, _to_numpy(out[:, j - lo], hw)
    else:
        raise ValueError(f"unknown temporal_mode {mode!r}")
