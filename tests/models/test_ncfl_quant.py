"""NCFL quantization (eq. 2) and probability model (eqs. 4–5): closed-form checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import laplace

from workbench.models.ncfl.entropy import LIKELIHOOD_BOUND, bits, laplace_bin_probability, likelihood
from workbench.models.ncfl.quantization import quantize


def _inputs(seed: int = 0, n: int = 500) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(n, generator=g, dtype=torch.float64) * 5
    mu = torch.randn(n, generator=g, dtype=torch.float64)
    q = torch.rand(n, generator=g, dtype=torch.float64) * 3 + 0.05
    return e, mu, q


def test_eq2_values_on_grid_and_idempotent() -> None:
    e, mu, q = _inputs()
    e_hat = quantize(e, mu, q, mode="round")
    k = (e_hat - mu) / q
    assert torch.allclose(k, torch.round(k), atol=1e-9)
    assert torch.all((e_hat - e).abs() <= q / 2 + 1e-12)  # nearest grid point
    assert torch.allclose(quantize(e_hat, mu, q, mode="round"), e_hat, atol=1e-12)
    # the straight-through proxy has the same forward value
    assert torch.equal(quantize(e, mu, q, mode="ste"), e_hat)


def test_eq2_ste_gradients() -> None:
    e, mu, q = (t.clone().requires_grad_(True) for t in _inputs(1))
    quantize(e, mu, q, mode="ste").sum().backward()
    assert e.grad is not None and mu.grad is not None and q.grad is not None
    u = (e - mu) / q
    assert torch.allclose(e.grad, torch.ones_like(e))
    assert torch.allclose(mu.grad, torch.zeros_like(mu), atol=1e-12)
    assert torch.allclose(q.grad, (torch.round(u) - u).detach(), atol=1e-9)


def test_noise_proxy_stays_within_half_step() -> None:
    e, mu, q = _inputs(2)
    torch.manual_seed(0)
    out = quantize(e, mu, q, mode="noise")
    assert torch.all((out - e).abs() <= q / 2)
    assert not torch.equal(out, e)


@pytest.mark.parametrize("mu", [-3.0, 0.0, 0.37, 12.5])
@pytest.mark.parametrize("sigma", [0.11, 0.5, 2.0, 9.0])
@pytest.mark.parametrize("q", [0.02, 0.3, 1.0, 4.0])
def test_eq5_sums_to_one_over_the_grid(mu: float, sigma: float, q: float) -> None:
    k_max = math.ceil(40 * sigma / q) + 2
    k = torch.arange(-k_max, k_max + 1, dtype=torch.float64)
    grid = mu + k * q
    p = laplace_bin_probability(grid, torch.tensor(mu, dtype=torch.float64),
                                torch.tensor(sigma, dtype=torch.float64), q)
    assert torch.all(p >= 0)
    assert abs(float(p.sum()) - 1.0) < 1e-4


def test_eq5_matches_scipy_laplace_cdf_difference() -> None:
    e, mu, q = _inputs(3)
    g = torch.Generator().manual_seed(4)
    sigma = torch.rand(e.shape, generator=g, dtype=torch.float64) * 3 + 0.11
    for x in (e, quantize(e, mu, q, mode="round")):  # any point and grid points
        p = laplace_bin_probability(x, mu, sigma, q).numpy()
        xn, mun, qn, sn = x.numpy(), mu.numpy(), q.numpy(), sigma.numpy()
        ref = laplace.cdf(xn + qn / 2, loc=mun, scale=sn) - laplace.cdf(xn - qn / 2, loc=mun, scale=sn)
        # scipy's plain difference cancels in the far tails; compare where it is meaningful
        ok = ref > 1e-8
        assert ok.mean() > 0.5
        np.testing.assert_allclose(p[ok], ref[ok], rtol=1e-7)


def test_eq5_float32_is_stable_in_the_tails() -> None:
    mu = torch.zeros(6)
    sigma = torch.full((6,), 0.2)
    x = torch.tensor([0.0, 0.4, 3.0, 10.0, 30.0, -30.0])
    p32 = laplace_bin_probability(x, mu, sigma, 1.0)
    p64 = laplace_bin_probability(x.double(), mu.double(), torch.full((6,), 0.2, dtype=torch.float64), 1.0)
    assert torch.all(torch.isfinite(p32)) and torch.all(p32 >= 0)
    big = p64 > 1e-30
    assert torch.allclose(p32[big].double(), p64[big], rtol=1e-4)
    # closed form in the tail: exp(-|v|/b) * sinh(q / 2b)
    assert math.isclose(float(p64[3]), math.exp(-10 / 0.2) * math.sinh(1 / 0.4), rel_tol=1e-9)


def test_likelihood_lower_bound_and_bits() -> None:
    x = torch.tensor([0.0, 200.0])
    p = likelihood(x, torch.zeros(2), torch.ones(2), 1.0)
    assert float(p[1]) == pytest.approx(LIKELIHOOD_BOUND, rel=1e-6)
    expected = -math.log2(1 - math.exp(-0.5)) - math.log2(LIKELIHOOD_BOUND)
    assert float(bits(p)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("mode", ["ste", "noise"])
def test_ce_gradients_reach_step_mean_and_scale(mode: str) -> None:
    torch.manual_seed(0)
    e = torch.randn(64) * 3
    mu = torch.randn(64).requires_grad_(True)
    q = (torch.rand(64) + 0.5).requires_grad_(True)
    sigma = (torch.rand(64) + 0.5).requires_grad_(True)
    e_hat = quantize(e, mu, q, mode=mode)  # type: ignore[arg-type]
    bits(likelihood(e_hat, mu, sigma, q)).backward()
    for t in (mu, q, sigma):
        assert t.grad is not None and torch.all(torch.isfinite(t.grad)) and float(t.grad.abs().sum()) > 0
    # a larger step makes every bin more probable: the rate falls as q grows
    assert float(q.grad.sum()) < 0
