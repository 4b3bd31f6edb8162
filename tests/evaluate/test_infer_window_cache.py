"""Streaming window inference with per-frame feature caching (EDVR) equals the plain window-by-window pass."""

from __future__ import annotations

import numpy as np
import torch

from baselines.edvr import EDVR
from workbench.evaluate.infer import restore_stream

MINI = dict(num_feat=16, num_extract_block=1, num_reconstruct_block=1, deformable_groups=2, feat_stride=1)


def _stream(model: EDVR, frames: np.ndarray) -> list[np.ndarray]:
    return [y for _, y in restore_stream(model, lambda t: frames[t], len(frames))]


def test_cached_frame_features_equal_per_window_forward_and_are_computed_once_per_frame() -> None:
    torch.manual_seed(0)
    model = EDVR(**MINI, init="kaiming").eval()  # kaiming: outputs far from the centre frame, so parity means something
    rng = np.random.default_rng(0)
    frames = rng.random((7, 22, 30, 3), dtype=np.float32)  # 22x30: padded to 24x32 inside
    calls = 0
    real = model.frame_features

    def counting(frame: torch.Tensor):
        nonlocal calls
        calls += 1
        return real(frame)

    model.frame_features = counting  # type: ignore[method-assign]
    cached = _stream(model, frames)
    assert calls == 7  # each frame once (5-frame windows would compute 35 front ends)
    model.caches_frame_features = False  # type: ignore[misc]
    plain = _stream(model, frames)
    assert calls == 7
    assert len(cached) == len(plain) == 7
    for a, b in zip(cached, plain):
        assert a.shape == (22, 30, 3)
        assert np.abs(a - b).max() < 1e-5
    centre_gap = max(np.abs(p - f).max() for p, f in zip(plain, frames))
    assert centre_gap > 1e-2


def test_from_frame_features_equals_forward_on_a_clip() -> None:
    torch.manual_seed(1)
    model = EDVR(**MINI, init="kaiming").eval()
    clip = torch.rand(2, 5, 3, 20, 28)
    with torch.no_grad():
        feats = [model.frame_features(clip[:, i]) for i in range(5)]
        torch.testing.assert_close(model.from_frame_features(feats, clip), model(clip), atol=1e-5, rtol=0)
