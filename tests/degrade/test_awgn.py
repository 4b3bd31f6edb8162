"""AWGN determinism: same seed, same bits; other sequence or sigma, other noise."""

import numpy as np
import pytest
import torch

from workbench.degrade.awgn import (
    add_awgn,
    add_awgn_frame,
    add_training_noise,
    noise_seed,
    sample_training_sigma,
)


def test_same_inputs_same_bits():
    frames = np.random.default_rng(0).random((3, 8, 10, 3)).astype(np.float32)
    s = noise_seed("set8", "tractor", 30)
    a, b = add_awgn(frames, 30, s), add_awgn(frames, 30, s)
    assert a.dtype == np.float32 and np.array_equal(a, b)
    assert s == noise_seed("set8", "tractor", 30.0)


def test_other_sequence_or_sigma_other_noise():
    assert noise_seed("set8", "tractor", 30) != noise_seed("set8", "sunflower", 30)
    assert noise_seed("set8", "tractor", 30) != noise_seed("set8", "tractor", 40)
    assert noise_seed("set8", "tractor", 30) != noise_seed("davis", "tractor", 30)
    z = np.zeros((1, 16, 16, 3), np.float32)
    n1 = add_awgn(z, 30, noise_seed("set8", "a", 30))
    n2 = add_awgn(z, 30, noise_seed("set8", "b", 30))
    assert not np.array_equal(n1, n2)


def test_streaming_equals_whole_clip_and_statistics():
    z = np.zeros((4, 64, 64, 3), np.float32)
    seed = noise_seed("x", "y", 50)
    whole = add_awgn(z, 50, seed)
    for t in range(4):
        assert np.array_equal(whole[t], add_awgn_frame(z[t], 50, seed, t))
    assert not np.array_equal(whole[0], whole[1])
    assert whole.std() == pytest.approx(50 / 255, rel=0.03)
    assert whole.min() < 0  # unclipped


def test_training_noise_range_and_seeded():
    g = torch.Generator().manual_seed(0)
    s = sample_training_sigma(1000, g)
    assert 5 <= float(s.min()) and float(s.max()) <= 55
    clean = torch.zeros(2, 3, 3, 8, 8)
    a = add_training_noise(clean, torch.tensor([10.0, 50.0]), torch.Generator().manual_seed(1))
    b = add_training_noise(clean, torch.tensor([10.0, 50.0]), torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and float(a[1].std()) > float(a[0].std())
