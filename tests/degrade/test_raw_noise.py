"""The Poisson–Gaussian noise per ISO: variance a·x + b within 2 % over 1e6 samples, seeding, maps."""

import numpy as np
import pytest
import torch

from workbench.data.sensors import CRVD, CRVD_ISOS
from workbench.degrade.raw_noise import (
    add_raw_noise_frame,
    add_raw_training_noise,
    normalized_params,
    params_map,
    raw_noise_seed,
    training_params,
    variance_map,
)

LEVEL_N = 0.3  # a flat patch at 30 % of the white level: far from both clipping bounds at every ISO
SAMPLES = 1_000_000


@pytest.mark.parametrize("iso", CRVD_ISOS)
def test_variance_matches_a_x_plus_b_in_dn(iso: int) -> None:
    flat = np.full((1000, 1000), LEVEL_N, dtype=np.float32)
    noisy = add_raw_noise_frame(flat, iso, raw_noise_seed("test", "flat", iso), 0)
    span = CRVD.white - CRVD.black
    dn = noisy.astype(np.float64) * span  # black already subtracted
    p = CRVD.noise_at(iso)
    expected = p.a * LEVEL_N * span + p.b  # Var = a·(x − black) + b, DN²
    assert dn.size == SAMPLES
    assert abs(dn.var() / expected - 1) < 0.02
    assert abs(dn.mean() / (LEVEL_N * span) - 1) < 0.002  # unbiased away from the bounds


@pytest.mark.parametrize("iso", CRVD_ISOS)
def test_training_noise_variance_in_normalised_units(iso: int) -> None:
    a_n, b_n = training_params(torch.tensor([CRVD_ISOS.index(iso)]), CRVD_ISOS)
    clean = torch.full((1, 1, 4, 500, 500), LEVEL_N)
    noisy = add_raw_training_noise(clean, a_n, b_n, torch.Generator().manual_seed(iso))
    expected = normalized_params(iso)[0] * LEVEL_N + normalized_params(iso)[1]
    assert abs(float(noisy.double().var()) / expected - 1) < 0.02


def test_normalised_params_are_the_dn_table_scaled() -> None:
    a_n, b_n = normalized_params(1600)
    assert a_n == pytest.approx(3.513262 / 3855) and b_n == pytest.approx(11.917691 / 3855**2)


def test_seeded_per_frame_and_clipped_to_dn_range() -> None:
    x = np.linspace(-0.05, 1.0, 4000, dtype=np.float32).reshape(40, 100)
    a = add_raw_noise_frame(x, 25600, 7, 3)
    np.testing.assert_array_equal(a, add_raw_noise_frame(x, 25600, 7, 3))
    assert not np.array_equal(a, add_raw_noise_frame(x, 25600, 7, 4))
    assert a.min() >= -240 / 3855 - 1e-7 and a.max() <= 1.0
    assert raw_noise_seed("d", "s", 1600) != raw_noise_seed("d", "s", 3200)


def test_variance_map_and_params_map() -> None:
    params = params_map(0.01, 0.001, height=2, width=3)
    assert params.shape == (1, 2, 2, 3)
    frame = torch.tensor([[-0.5, 0.5, 2.0]]).view(1, 1, 1, 3).expand(1, 4, 2, 3)
    var = variance_map(frame, params)
    torch.testing.assert_close(var[0, 0, 0], torch.tensor([0.001, 0.006, 0.011]))
