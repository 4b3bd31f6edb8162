"""NCFL's compression module starts live: at initialisation the latents are not all in the zero bin, the
prior's μ learns from the rate, the decoder sees c_{t−1}; the diagnostics reach ``RestorationOutput.stats``.

Smoke width (0.25, one CAB), seeded, on an embedded-test clip (96x160, 3 frames) with AWGN σ = 25."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from workbench.data.embedded import open_embedded
from workbench.models.ncfl import NCFL, NCFLBi
from workbench.models.ncfl.compression import CompressionOutput, NeuralCompression
from workbench.models.ncfl.model import NCFLState
from workbench.models.ncfl.presets import ncfl_model

LAMBDA = 1e-4  # stage-1 rate weight of eq. 6 (model docstring)
QUANTIZED = ("adapq", "fixedq", "M2")
STAT_KEYS = {"zero_bin_share", "z_zero_bin_share", "q_mean", "sigma_mean", "bpp"}


def _clip(size: int | None = None) -> tuple[Tensor, Tensor]:
    seq = open_embedded("embedded-test", max_frames=3)[0]
    clean = torch.stack([torch.from_numpy(seq.frame(i)).permute(2, 0, 1) for i in range(3)])[None]
    if size is not None:
        clean = clean[..., :size, :size]
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    return clean, clean + 25 / 255 * noise


def _model(preset: str, seed: int = 0) -> NCFL | NCFLBi:
    torch.manual_seed(seed)
    return ncfl_model(preset=preset, width_scale=0.25, cab_blocks=1)


def _compression(model: NCFL | NCFLBi) -> NeuralCompression:
    comp = model.refiner.compression if isinstance(model, NCFL) else model.forward_refiner.compression
    assert comp is not None
    return comp


def _training_step_outputs(preset: str, seed: int = 0) -> list[CompressionOutput]:
    """Compression outputs of one training forward/backward (μ, ê and q keep their gradients)."""
    model = _model(preset, seed).train()
    outs: list[CompressionOutput] = []

    def keep(_mod: object, _inp: object, out: CompressionOutput) -> None:
        for t in (out.mu, out.latent, out.step):
            if t is not None and t.requires_grad:
                t.retain_grad()
        outs.append(out)

    _compression(model).register_forward_hook(keep)
    clean, noisy = _clip()
    res = model(noisy)
    loss = ((res.frames - clean) ** 2).mean()
    if "ce_bpp" in res.aux:
        loss = loss + LAMBDA * res.aux["ce_bpp"]
    loss.backward()
    return outs


def _cat(ts: list[Tensor]) -> Tensor:
    return torch.cat([t.flatten() for t in ts])


@pytest.mark.parametrize("preset", QUANTIZED)
def test_latents_are_not_all_in_the_zero_bin(preset: str) -> None:
    # the dead start (q = σ = 1, latent std ≈ 0.05) had 100 % zeros: ê ≡ μ
    outs = _training_step_outputs(preset)
    assert len(outs) == 2  # the coded steps t = 1, 2
    k = _cat([torch.round((o.latent - o.mu) / o.step).detach()
              for o in outs if o.mu is not None and o.step is not None])
    assert float((k == 0).float().mean()) < 0.9


@pytest.mark.parametrize("preset", ["adapq", "fixedq"])
def test_mu_receives_the_rate_gradient_of_coded_symbols(preset: str) -> None:
    # With the straight-through proxy ∂ê/∂μ = 0, so μ learns from the rate only. A coded (non-zero) symbol
    # lies in the Laplace tail, where −log2 P grows by 1/(σ ln 2) per unit of |ê − μ|: its μ gets
    # λ / (N·H·W · T_coded · σ · ln 2) from the loss. A symbol at the centre of the zero bin gets nothing
    # (≈ 1e-16 measured in the dead start). Require a quarter of the closed form: most symbols are coded.
    outs = _training_step_outputs(preset)
    grads = [o.mu.grad for o in outs if o.mu is not None and o.mu.grad is not None]
    assert len(grads) == len(outs) == 2
    sigma = float(_cat([o.scale.detach() for o in outs if o.scale is not None]).mean())
    n, _, h, w = outs[0].features.shape
    closed_form = LAMBDA / (n * h * w * len(outs) * sigma * math.log(2))
    assert float(_cat(grads).abs().mean()) > 0.25 * closed_form


def test_without_the_rate_the_step_learns_through_the_decoder() -> None:
    # M2 (ce=False): μ has no gradient by construction (∂ê/∂μ = 0 and no rate); the step does, with
    # ∂ê/∂q = round(u) − u, whose mean magnitude is 1/4 for symbols spread over several bins (measured
    # 0.25 of |∂L/∂ê|) but only |u| ≈ 0.06 when every symbol is zero (dead start). Require 0.15.
    outs = _training_step_outputs("M2")
    dq = _cat([o.step.grad for o in outs if o.step is not None and o.step.grad is not None]).abs().mean()
    de = _cat([o.latent.grad for o in outs if o.latent.grad is not None]).abs().mean()
    assert float(de) > 0
    assert float(dq) > 0.15 * float(de)


@pytest.mark.parametrize("preset", QUANTIZED)
def test_decoder_sees_the_previous_features(preset: str) -> None:
    # dead start: ê ≡ μ and ẑ ≡ its centre, so c~_t did not depend on c_{t−1} at all
    model = _model(preset).eval()
    comp = _compression(model)
    clean, noisy = _clip(64)
    with torch.no_grad():
        _, state = model.step(noisy[:, 0], None)
        assert isinstance(state, NCFLState)
        features = state.features
        a = comp(features, noisy[:, 1]).features
        b = comp(torch.roll(features, shifts=(7, 11), dims=(2, 3)), noisy[:, 1]).features
    assert float((a - b).norm() / a.norm()) > 0.05


@pytest.mark.parametrize("preset", QUANTIZED)
@pytest.mark.parametrize("train", [True, False])
def test_stats_reach_the_restoration_output(preset: str, train: bool) -> None:
    model = _model(preset).train(train)
    clean, noisy = _clip(32)
    out = model(noisy)
    assert set(out.stats) == STAT_KEYS
    for key, value in out.stats.items():
        assert value.dim() == 0 and not value.requires_grad and math.isfinite(float(value)), key
    assert 0.0 <= float(out.stats["zero_bin_share"]) <= 1.0
    assert 0.0 <= float(out.stats["z_zero_bin_share"]) <= 1.0
    assert float(out.stats["q_mean"]) > 0 and float(out.stats["sigma_mean"]) > 0.11
    assert float(out.stats["bpp"]) > 0
    if preset == "M2":  # the rate is logged but is not in the loss: σ rows get no gradient from L2
        assert out.aux == {}
        ((out.frames - clean) ** 2).mean().backward()
        comp = _compression(model)
        last = comp.prior[-1]
        assert isinstance(last, torch.nn.Conv2d) and last.weight.grad is not None
        lc = comp.latent_channels
        assert float(last.weight.grad[lc : 2 * lc].abs().max()) == 0.0
        assert comp.hyper.z_scale_raw.grad is None
    else:
        assert torch.allclose(out.stats["bpp"], out.aux["ce_bpp"].detach())
    # per step: nothing at t = 0, and forward's stats are the mean of the coded steps
    assert isinstance(model, NCFL)
    with torch.no_grad():
        first, state = model.step(noisy[:, 0], None)
        assert first.stats == {}
        steps = []
        for t in (1, 2):
            res, state = model.step(noisy[:, t], state)
            steps.append(res.stats)
    for key in STAT_KEYS:  # the ste proxy draws no noise: training mode is deterministic too
        assert torch.allclose(torch.stack([s[key] for s in steps]).mean(), out.stats[key], atol=1e-6), key


def test_stats_absent_without_a_quantizer_and_summed_rate_for_bi() -> None:
    clean, noisy = _clip(32)
    with torch.no_grad():
        for preset in ("Ma", "noq"):
            assert _model(preset).eval()(noisy).stats == {}
        out = _model("bi").eval()(noisy)
    assert set(out.stats) == STAT_KEYS
    assert torch.allclose(out.stats["bpp"], out.aux["ce_bpp"])


def test_fixedq_step_is_exactly_the_fixed_constant() -> None:
    model = _model("fixedq").train()
    comp = _compression(model)
    assert "fixed_step" in dict(comp.named_buffers())
    assert all(not n.endswith("fixed_step") for n, _ in model.named_parameters())
    clean, noisy = _clip(32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):  # the step stays the constant through training, while the latent gain learns
        out = model(noisy)
        loss = ((out.frames - clean) ** 2).mean() + LAMBDA * out.aux["ce_bpp"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(comp.fixed_step) == 1.0
    assert float(out.stats["q_mean"]) == 1.0
    assert comp.log_gain.grad is not None and float(comp.log_gain.grad.abs()) > 0
    with torch.no_grad():
        res = comp.eval()(torch.randn(1, model.feat_channels, 16, 16), noisy[:, 0, :, :16, :16])
    assert res.step is not None and torch.all(res.step == 1.0)
