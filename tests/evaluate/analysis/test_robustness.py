"""Distance, spread and symbol-agreement metrics of the Fig. 1c study on features with a known answer."""

import math

import numpy as np
import pytest
import torch

from workbench.evaluate.analysis.robustness import (
    SymbolCounts,
    clean_spread,
    noisy_clean_distance,
    raw_distance,
    realisation_spread,
)


def _clean() -> np.ndarray:
    # four points at (±1, 0), (0, ±1): centroid 0, every point at distance 1 -> spread 1
    return np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


def test_clean_spread_is_rms_distance_to_centroid():
    assert clean_spread(_clean()) == pytest.approx(1.0)
    assert clean_spread(3 * _clean() + 7) == pytest.approx(3.0)


def test_distance_and_spread_of_symmetric_offsets():
    clean, v = _clean(), np.array([0.3, 0.4])  # |v| = 0.5
    noisy = np.stack([clean + v, clean - v])
    assert noisy_clean_distance(clean, noisy) == pytest.approx(0.5)
    assert realisation_spread(clean, noisy) == pytest.approx(0.5)


def test_common_offset_moves_away_from_clean_without_spread():
    clean = _clean()
    noisy = np.stack([clean + [2.0, 0.0]] * 3)
    assert noisy_clean_distance(clean, noisy) == pytest.approx(2.0)
    assert realisation_spread(clean, noisy) == pytest.approx(0.0)


def test_metrics_are_scale_invariant():
    clean, v = _clean(), np.array([0.3, 0.4])
    noisy = np.stack([clean + v, clean - v])
    assert noisy_clean_distance(10 * clean, 10 * noisy) == pytest.approx(noisy_clean_distance(clean, noisy))


def test_symbol_agreement_counts():
    t = lambda *x: torch.tensor(x)  # noqa: E731
    e_c, e_n = t(0.2, 1.2, 2.7, -0.4), t(0.4, 1.6, 2.6, -0.6)
    zero, one = torch.zeros(4), torch.ones(4)
    c = SymbolCounts()
    # clean symbols 0, 1, 3, 0; noisy 0, 2, 3, -1 (same grid)
    c.add(e_c, zero, one, e_n, zero, one)
    s = c.shares()
    assert s["symbol_agreement"] == pytest.approx(0.5)
    assert s["clean_zero_share"] == pytest.approx(0.5)
    assert s["symbol_agreement_nonzero"] == pytest.approx(0.5)  # of clean 1 and 3, only 3 agrees
    assert s["symbol_agreement_clean_grid"] == pytest.approx(0.5)


def test_own_grid_and_clean_grid_differ_when_the_prior_moves():
    e = torch.tensor([0.2, 1.2, 2.2])
    zero, one = torch.zeros(3), torch.ones(3)
    c = SymbolCounts()
    # identical latent, but the noisy run's prior shifts its mean by one step: every own-grid symbol differs
    c.add(e, zero, one, e, one, one)
    s = c.shares()
    assert s["symbol_agreement"] == 0.0
    assert s["symbol_agreement_clean_grid"] == 1.0


def test_no_nonzero_clean_symbol_gives_nan():
    c = SymbolCounts()
    z = torch.zeros(5)
    c.add(z, z, torch.ones(5), z, z, torch.ones(5))
    assert math.isnan(c.shares()["symbol_agreement_nonzero"])
    assert c.shares()["symbol_agreement"] == 1.0


def test_constant_clean_features_have_no_normalised_distance():
    clean = np.zeros((4, 3))
    noisy = np.stack([clean, clean])
    assert math.isnan(noisy_clean_distance(clean, noisy))
    assert math.isnan(realisation_spread(clean, noisy))


    assert raw_distance(clean, noisy + 2.0) == pytest.approx(2.0 * math.sqrt(3))
