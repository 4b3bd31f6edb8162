"""SPyNet pretrained here: exact synthetic flow, a few steps lower EPE, the cache is keyed and reused."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from workbench.cli import main
from workbench.errors import CheckpointError
from workbench.models.spynet import load_spynet
from workbench.models.warp import flow_warp
from workbench.train import motion_prior
from workbench.train import spynet_pretrain as sp

TINY = sp.SpynetRecipe(steps=1, batch_size=1, crop=32, eval_sigmas=(0.0,), init_gains=(0.7,), calibration_stride=15)


def _texture(h: int = 96, w: int = 160, *, seed: int = 0) -> torch.Tensor:
    """A smooth random colour texture ``(1, 3, h, w)`` in [0, 1] (a sum of random sinusoids)."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    out = torch.full((3, h, w), 0.5)
    for _ in range(6):
        fx, fy, phase = (torch.rand(3, generator=gen) * torch.tensor([0.5, 0.5, 6.3])).tolist()
        amp = 0.08 * torch.rand(3, 1, 1, generator=gen)
        out = out + amp * torch.sin(fx * xx + fy * yy + phase)
    return out.clamp(0, 1)[None]


def _batch(source: torch.Tensor, n: int, seed: int, crop: int = 64) -> sp.FlowBatch:
    return sp.synthetic_flow_batch(sp.spline_coefficients(source), n, torch.Generator().manual_seed(seed),
                                   crop=crop, max_translation_px=6.0, max_affine=0.02, field_px=0.5)


def test_generated_flow_is_exact() -> None:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 160), indexing="ij")
    ramps = torch.stack([0.2 + 0.5 * xx, 0.3 + 0.4 * yy, 0.1 + 0.3 * xx + 0.3 * yy])[None]
    # both interpolations reproduce linear images, so the warp is exact up to rounding
    b = _batch(ramps, 6, seed=1)
    v = b.valid.bool()
    assert v.float().mean() > 0.6 and b.flow.abs().amax() > 1.0
    assert (flow_warp(b.supp, b.flow) - b.ref).abs().amax(1)[v].max() < 1e-4
    # on a textured image the warp leaves only the bilinear interpolation error
    b = _batch(_texture(), 6, seed=2)
    v = b.valid.bool()
    warped = (flow_warp(b.supp, b.flow) - b.ref).abs().mean(1)[v].mean()
    unwarped = (b.supp - b.ref).abs().mean(1)[v].mean()
    assert warped < 0.1 * unwarped


def test_a_few_steps_lower_epe_on_a_known_pair() -> None:
    source = _texture(seed=3)
    fixed = _batch(source, 2, seed=4, crop=32)
    coeffs = sp.spline_coefficients(source)
    gen = torch.Generator().manual_seed(5)
    recipe = replace(TINY, steps=8, batch_size=4, lr=1e-3, level_weights=(1.0,) * 6)

    def epe(model: torch.nn.Module) -> float:
        with torch.no_grad():
            s, n = sp.masked_epe(model(fixed.ref, fixed.supp), fixed.flow, fixed.valid)
        return float(s / n)

    model = sp.init_spynet(0)
    before = epe(model)
    zero = float(sp.masked_epe(torch.zeros_like(fixed.flow), fixed.flow, fixed.valid)[0] / fixed.valid.sum())
    assert before == pytest.approx(zero)  # the zero-initialised last convolutions predict no motion
    losses = sp.fit(model, lambda step: sp.synthetic_flow_batch(
        coeffs, recipe.batch_size, gen, crop=32, max_translation_px=6.0, max_affine=0.02, field_px=0.5), recipe)
    assert len(losses) == 8 and all(math.isfinite(x) for x in losses)
    assert epe(model) < before


def test_gradient_sign_init_estimates_a_known_motion() -> None:
    source = _texture(seed=7)
    b = _batch(source, 4, seed=8)
    model = sp.gradient_sign_init(sp.init_spynet(0), [0.7 / (2 * g) for g in sp.gradient_scales(source)])
    with torch.no_grad():
        s, n = sp.masked_epe(model(b.ref, b.supp), b.flow, b.valid)
    zero = sp.masked_epe(torch.zeros_like(b.flow), b.flow, b.valid)[0] / n
    assert float(s / n) < 0.5 * float(zero)


def test_pyramid_loss_is_zero_for_the_true_flow() -> None:
    b = _batch(_texture(), 2, seed=6)
    pyramid = [torch.nn.functional.avg_pool2d(b.flow, 2**k) / 2**k if k else b.flow for k in range(5, -1, -1)]
    assert float(sp.pyramid_loss(pyramid, b.flow, b.valid, (1.0,) * 6)) < 1e-2  # only the smoothing ε
    assert float(sp.pyramid_loss([torch.zeros_like(f) for f in pyramid], b.flow, b.valid, (1.0,) * 6)) > 1.0


@pytest.fixture
def tiny_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[sp.SpynetRecipe]:
    """Cache in ``tmp_path``; training replaced by the tiny recipe on 1 eval pair; records each training."""
    calls: list[sp.SpynetRecipe] = []

    def tiny(recipe: sp.SpynetRecipe | None, **kw: Any) -> dict[str, Any]:
        calls.append(recipe or sp.SpynetRecipe())
        return sp.pretrain_spynet(replace(TINY, steps=min(calls[-1].steps, 2)), max_eval_pairs=1, **kw)

    monkeypatch.setattr(motion_prior, "cache_root", lambda: tmp_path)
    monkeypatch.setattr(motion_prior, "pretrain_spynet", tiny)
    return calls


def test_cache_is_keyed_by_recipe_and_reused(tiny_cache: list[sp.SpynetRecipe]) -> None:
    assert motion_prior.cache_key(TINY) != motion_prior.cache_key(replace(TINY, lr=2e-3))
    assert motion_prior.cache_key(TINY) == motion_prior.cache_key(replace(TINY))
    path = motion_prior.pretrained_spynet(recipe=TINY)
    assert path.name == "spynet.pth" and path.parent.name == motion_prior.cache_key(TINY)
    assert motion_prior.pretrained_spynet(recipe=TINY) == path and len(tiny_cache) == 1  # reused
    assert sum(p.numel() for p in load_spynet(path).parameters()) == 1_440_300
    report = motion_prior.read_report(path)
    for key in ("epe_before_px", "epe_after_px", "epe_zero_flow_px", "wall_seconds", "torch_version", "recipe"):
        assert key in report
    other = motion_prior.pretrained_spynet(recipe=replace(TINY, steps=2))
    assert other != path and len(tiny_cache) == 2
    motion_prior.pretrained_spynet(recipe=TINY, force=True)
    assert len(tiny_cache) == 3


def test_failed_training_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(recipe: sp.SpynetRecipe | None, **kw: Any) -> dict[str, Any]:
        raise KeyboardInterrupt

    monkeypatch.setattr(motion_prior, "cache_root", lambda: tmp_path)
    monkeypatch.setattr(motion_prior, "pretrain_spynet", boom)
    with pytest.raises(KeyboardInterrupt):
        motion_prior.pretrained_spynet(recipe=TINY)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    with pytest.raises(CheckpointError, match="workbench pretrain spynet"):
        motion_prior.read_report(motion_prior.prior_dir(TINY) / motion_prior.WEIGHTS)


def test_cli_prints_epe_against_zero_flow(tiny_cache: list[sp.SpynetRecipe],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pretrain", "spynet"]) == 0
    out = capsys.readouterr().out
    assert "vs zero flow" in out and "ratio" in out and "σ=0" in out
    assert out.strip().splitlines()[-1].endswith("spynet.pth")
