"""Streaming window inference with cached front-end features (EDVR: per frame; FastDVDNet: stage 1 per
frame triplet) equals the plain window-by-window pass, and computes each run of frames once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.edvr import EDVR
from baselines.fastdvdnet import FastDVDNet
from baselines.raw_variants import FastDVDNetRaw
from workbench.evaluate.infer import restore_stream
from workbench.models.base import RestorationModel

MINI = dict(num_feat=16, num_extract_block=1, num_reconstruct_block=1, deformable_groups=2, feat_stride=1)


def _edvr() -> EDVR:
    torch.manual_seed(0)
    return EDVR(**MINI, init="kaiming").eval()  # kaiming: outputs far from the centre frame, so parity means something


def _fastdvdnet() -> FastDVDNet:
    torch.manual_seed(0)
    return FastDVDNet(base_channels=8).eval()


def _stream(model: RestorationModel, frames: np.ndarray) -> list[np.ndarray]:
    sigma = 30.0 if model.uses_noise_map else None
    return [y for _, y in restore_stream(model, lambda t: frames[t], len(frames), noise_sigma=sigma)]


# T = 7 frames, 5-frame windows with reflected borders: EDVR needs each of the 7 frames once (35 front ends
# without the cache); FastDVDNet the 9 distinct triplets (2,1,0), (1,0,1), (0,1,2), ..., (5,6,5), (6,5,4)
# = T + 2 (21 without the cache)
@pytest.mark.parametrize(("build", "runs"), [(_edvr, 7), (_fastdvdnet, 9)], ids=["edvr", "fastdvdnet"])
def test_cached_features_equal_the_per_window_forward_and_each_run_is_computed_once(build, runs) -> None:
    model = build()
    rng = np.random.default_rng(0)
    frames = rng.random((7, 22, 30, 3), dtype=np.float32)  # 22x30: padded inside
    seen: list[tuple[int, ...]] = []
    real = model.frame_features

    def counting(run: torch.Tensor, noise_map=None):
        seen.append(tuple(run.shape))
        return real(run, noise_map)

    model.frame_features = counting  # type: ignore[method-assign]
    cached = _stream(model, frames)
    assert len(seen) == runs and all(s[1] == model.feature_span for s in seen)
    model.caches_frame_features = False  # type: ignore[misc]
    plain = _stream(model, frames)
    assert len(seen) == runs
    assert len(cached) == len(plain) == 7
    for a, b in zip(cached, plain):
        assert a.shape == (22, 30, 3)
        assert np.abs(a - b).max() < 1e-5
    centre_gap = max(np.abs(p - f).max() for p, f in zip(plain, frames))
    assert centre_gap > 1e-2


@pytest.mark.parametrize("build", [_edvr, _fastdvdnet], ids=["edvr", "fastdvdnet"])
def test_from_frame_features_equals_forward_on_a_clip(build) -> None:
    model = build()
    clip = torch.rand(2, 5, 3, 20, 28)
    nmap = torch.full((2, 1, 20, 28), 25 / 255) if model.uses_noise_map else None
    span = model.feature_span
    with torch.no_grad():
        feats = [model.frame_features(clip[:, i:i + span], nmap) for i in range(5 - span + 1)]
        torch.testing.assert_close(model.from_frame_features(feats, clip, nmap), model(clip, nmap), atol=1e-5, rtol=0)


def test_the_raw_fastdvdnet_does_not_inherit_the_cache() -> None:
    assert FastDVDNet.caches_frame_features and not FastDVDNetRaw.caches_frame_features
