"""EPE on a known flow; q-vs-texture rank correlation on a frame with a smooth and a textured half."""

import math

import numpy as np
import pytest

from workbench.evaluate.analysis.flow import endpoint_error
from workbench.evaluate.analysis.qmap import block_variance, rank_correlation, sign
from workbench.evaluate.analysis.stepmap import smooth_over_textured, step_map_metrics


def test_epe_of_a_constant_offset_is_its_length():
    ref = np.random.default_rng(0).normal(size=(2, 6, 8))
    assert endpoint_error(ref + np.array([3.0, 4.0])[:, None, None], ref) == pytest.approx(5.0)


def test_epe_respects_the_valid_mask():
    ref = np.zeros((2, 4, 4))
    flow = ref.copy()
    flow[0, :, :2] = 10.0  # wrong only in the left half, which is masked out
    valid = np.zeros((4, 4), bool)
    valid[:, 2:] = True
    assert endpoint_error(flow, ref, valid) == 0.0
    assert endpoint_error(flow, ref) == pytest.approx(5.0)
    assert math.isnan(endpoint_error(flow, ref, np.zeros((4, 4), bool)))


def test_epe_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        endpoint_error(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)))


def test_block_variance_closed_form():
    checker = (np.indices((8, 8)).sum(axis=0) % 2).astype(float)
    frame = np.repeat(checker[..., None], 3, axis=-1)  # luma 0/1 alternating: variance 1/4 per block
    assert np.allclose(block_variance(frame, 2, (4, 4)), 0.25)
    assert np.allclose(block_variance(np.full((8, 8, 3), 0.3), 4, (2, 2)), 0.0)


def _half_and_half(rng: np.random.Generator) -> np.ndarray:
    frame = np.full((32, 64, 3), 0.5)
    frame[:, 32:] = rng.uniform(0, 1, size=(32, 32, 3))  # right half textured
    return frame


def test_smooth_half_with_larger_steps_gives_negative_rho():
    rng = np.random.default_rng(1)
    var = block_variance(_half_and_half(rng), 4, (8, 16))
    q = np.where(np.arange(16)[None, :] < 8, 2.0, 1.0) * np.ones((8, 16))  # larger step on the smooth half
    q = q + rng.normal(0, 0.01, size=q.shape)
    rho = rank_correlation(q, var)
    assert rho < -0.5
    assert sign(rho) == -1
    assert smooth_over_textured(q, var) == pytest.approx(2.0, rel=0.05)
    m = step_map_metrics(np.stack([q, q[::-1, ::-1] * 0 + q]), var)
    assert m["sign_rho_q_mean_vs_variance"] == -1.0
    assert m["share_channels_negative"] == 1.0


def test_reversed_step_map_gives_positive_rho():
    rng = np.random.default_rng(2)
    var = block_variance(_half_and_half(rng), 4, (8, 16))
    q = np.where(np.arange(16)[None, :] < 8, 1.0, 2.0) * np.ones((8, 16)) + rng.normal(0, 0.01, size=(8, 16))
    assert sign(rank_correlation(q, var)) == 1


def test_constant_step_map_has_no_rank_correlation():
    var = np.arange(12.0).reshape(3, 4)
    assert math.isnan(rank_correlation(np.ones((3, 4)), var))
    assert sign(float("nan")) == 0
