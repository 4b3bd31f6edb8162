"""Training on degraded/clean pairs: the clip is split, not noised; nothing is drawn after the clips, so a
killed and resumed run ends with the weights of an uninterrupted one; a noise-map model is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.fastdvdnet import FastDVDNet
from workbench.data.paired import StackedPair
from workbench.data.sequence import ArraySequence
from workbench.errors import ConfigError
from workbench.train.loop import train, training_pair
from workbench.train.sampler import ClipSampler
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model


def _pairs() -> list[StackedPair]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(2):
        clean = rng.random((6, 24, 24, 3)).astype(np.float32) * 0.6
        out.append(StackedPair(name=f"s{i}", degraded=ArraySequence(f"s{i}", clean + 0.3),
                               clean=ArraySequence(f"s{i}", clean)))
    return out


def _spec(**kw: object) -> TrainSpec:
    base: dict = dict(steps=6, batch_size=2, patch_size=16, clip_frames=3, lr=1e-3, log_every=1,
                      checkpoint_every=2, seed=5)
    base.update(kw)
    return TrainSpec(**base)


def _model():
    return build_model("basicvsrpp-uni", {"num_feat": 8, "num_block": 1, "deformable_groups": 2}, seed=0,
                       where="test")


def test_a_paired_clip_is_split_and_draws_nothing_more():
    sampler = ClipSampler(sequences=_pairs(), clip_frames=3, patch_size=16)
    g = torch.Generator().manual_seed(1)
    batch = sampler.sample(2, g)
    state = g.get_state()
    degraded, clean, sigma = training_pair(batch, _spec(), g, paired=True)
    assert sigma is None and torch.equal(g.get_state(), state)
    assert degraded.shape == clean.shape == (2, 3, 3, 16, 16)
    assert torch.allclose(degraded - clean, torch.full_like(clean, 0.3), atol=1e-6)  # same crop and flip


def test_paired_training_learns_and_resumes_bit_identically(tmp_path):
    straight = _model()
    r = train(model=straight, spec=_spec(), train_sequences=_pairs(), out_dir=tmp_path / "a", progress=False)
    rows = (tmp_path / "a" / "loss.csv").read_text().splitlines()
    assert r.steps == 6 and rows[1].split(",")[5] == ""  # noise_sigma_mean is empty: no noise was drawn
    killed = _model()
    train(model=killed, spec=_spec(), train_sequences=_pairs(), out_dir=tmp_path / "b", stop_after=3, progress=False)
    resumed = _model()
    train(model=resumed, spec=_spec(), train_sequences=_pairs(), out_dir=tmp_path / "b", progress=False)
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    long = _model()
    res = train(model=long, spec=_spec(steps=40, log_every=40, checkpoint_every=40), train_sequences=_pairs(),
                out_dir=tmp_path / "c", progress=False)
    first = float((tmp_path / "a" / "loss.csv").read_text().splitlines()[1].split(",")[1])
    assert res.final_loss < 0.5 * first  # it learns the pairs' offset


def test_a_noise_map_model_is_refused_on_paired_data(tmp_path):
    with pytest.raises(ConfigError, match="carry no noise σ"):
        train(model=FastDVDNet(), spec=_spec(), train_sequences=_pairs(), out_dir=tmp_path, progress=False)


def test_the_frame_cache_is_bounded_in_bytes_and_draws_the_same_clips():
    pairs = _pairs()
    small = ClipSampler(sequences=pairs, clip_frames=3, patch_size=16, cache_bytes=3 * 24 * 24 * 6 * 4)
    big = ClipSampler(sequences=pairs, clip_frames=3, patch_size=16)
    a = small.sample(4, torch.Generator().manual_seed(2))
    b = big.sample(4, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and len(small._cache) <= 3 and small._cached_bytes <= 3 * 24 * 24 * 6 * 4


def test_paired_training_refuses_a_sigma_weighting(tmp_path):
    with pytest.raises(ConfigError, match="carry no noise σ to weight by"):
        train(model=_model(), spec=_spec(l2_weighting="inverse-sigma"), train_sequences=_pairs(), out_dir=tmp_path,
              progress=False)
