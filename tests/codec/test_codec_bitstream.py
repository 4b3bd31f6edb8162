"""Learned codec: constriction round trip is exact; estimated and actual bits agree."""

from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.codec.bitstream import compress, decompress, gaussian_tables, z_tables
from workbench.codec.entropy import FactorizedPrior, gaussian_likelihood, scale_table
from workbench.codec.learned import HyperpriorCodec
from workbench.codec.train import TrainSettings, train_hyperprior

# fixed costs of a real bitstream: 10-byte header + the ANS coder's final state (≤ 64 bits) + word padding
OVERHEAD_BITS = 80 + 64 + 32


def _check(model: HyperpriorCodec, x: torch.Tensor, rel_tol: float) -> float:
    coded = compress(model, x)
    decoded = decompress(model, coded.data)
    for a, b in zip(coded.y_symbols + coded.z_symbols, decoded.y_symbols + decoded.z_symbols):
        assert np.array_equal(a, b)
    assert torch.equal(coded.x_hat, decoded.x_hat)
    est, act = coded.estimated_bits, coded.actual_bits
    assert abs(act - est) <= rel_tol * est + OVERHEAD_BITS, (est, act)
    return 100 * (act - est) / est


def test_tables_are_normalised_and_match_the_likelihoods() -> None:
    levels = scale_table(8)
    for s, tab in zip(levels, gaussian_tables(levels)):
        assert tab.probs.sum() == pytest.approx(1.0, abs=1e-6) and tab.lo == -int(np.ceil(6.5 * s))
        k = torch.arange(tab.lo, tab.lo + tab.width, dtype=torch.float64)
        assert np.allclose(tab.probs[:-1], gaussian_likelihood(k, torch.full_like(k, float(s))).numpy())
    torch.manual_seed(0)
    for tab in z_tables(FactorizedPrior(channels=3)):
        assert tab.probs.sum() == pytest.approx(1.0, abs=1e-5) and tab.probs[-1] < 1e-6


def test_round_trip_untrained_with_escapes() -> None:
    torch.manual_seed(0)
    model = HyperpriorCodec(n=8, m=8)
    with torch.no_grad():  # force large latents so some values fall outside the tables (escape path)
        model.g_a[-1].weight.mul_(200.0)
    _check(model, torch.rand(2, 3, 64, 80), rel_tol=0.6)


def test_trained_model_estimate_matches_actual(tmp_path: Path, smooth_clip) -> None:  # type: ignore[no-untyped-def]
    frames = list(smooth_clip(4, 96, 96, seed=1))
    settings = TrainSettings(lam=0.01, steps=25, n=16, m=16, batch=2, checkpoint_every=25)
    model, summary = train_hyperprior(frames, settings, checkpoint=tmp_path / "ck.pt")
    assert summary["steps"] == 25 and (tmp_path / "ck.pt").is_file()
    x = torch.from_numpy(np.ascontiguousarray(smooth_clip(3, 128, 128, seed=2).transpose(0, 3, 1, 2)))
    # 25 steps leave many |ŷ| ≥ 2 where σ is at its floor: each is an escape (2^-24 + 16 raw bits) where the
    # estimate charges its 1e-9 floor (30 bits); well-trained study models stay within 1 % (see the study rows)
    gap = _check(model, x, rel_tol=0.25)
    assert gap > -1.0
