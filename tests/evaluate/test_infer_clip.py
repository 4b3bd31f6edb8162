"""Bi-directional (clip) models see the whole sequence by default; chunking is opt-in and recorded."""

from __future__ import annotations

import numpy as np
import torch

from workbench.evaluate.infer import chunking_rule, restore_stream
from workbench.models.ncfl.presets import ncfl_model


def _frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.random((16, 24, 3), dtype=np.float32) for _ in range(n)]


def test_whole_sequence_equals_one_forward_and_chunks_differ() -> None:
    torch.manual_seed(0)
    model = ncfl_model(preset="bi", width_scale=0.125, cab_blocks=1).eval()
    frames = _frames(7)
    whole = dict(restore_stream(model, lambda i: frames[i], len(frames)))
    clip = torch.from_numpy(np.stack(frames).transpose(0, 3, 1, 2)).unsqueeze(0)
    with torch.no_grad():
        ref = model(clip).frames[0].permute(0, 2, 3, 1).numpy()
    assert all(np.allclose(whole[t], ref[t], atol=1e-6) for t in range(7))  # same pass, memory layout aside
    chunked = dict(restore_stream(model, lambda i: frames[i], len(frames), chunk_len=2, chunk_overlap=1))
    assert sorted(chunked) == list(range(7))
    assert not np.allclose(chunked[3], whole[3])  # frame 3 lost context beyond one frame


def test_the_rule_is_spelled_out() -> None:
    assert chunking_rule(None, 2) == "whole sequence in one pass"
    assert chunking_rule(10, 2) == "chunks of 10 frames with 2 context frames each side"
