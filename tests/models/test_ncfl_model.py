"""NCFL model graph: switches, presets, determinism, streaming, bi-directional shape, inputs."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import ConfigError
from workbench.models.base import RestorationOutput
from workbench.models.ncfl import NCFL, NCFLBi, build_ncfl, ncfl_preset
from workbench.models.ncfl.compression import NeuralCompression
from workbench.models.ncfl.presets import PRESET_NAMES, smoke_sized

H = W = 32


def _clip(t: int = 3, c: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, t, c, H, W, generator=torch.Generator().manual_seed(seed))


def _small(name: str, **kw: object) -> NCFL | NCFLBi:
    torch.manual_seed(0)
    return build_ncfl(name, width_scale=0.25, cab_blocks=1, **kw)


def _param_names(model: torch.nn.Module) -> set[str]:
    return {n for n, _ in model.named_parameters()}


def test_ablation_presets_switch_modules() -> None:
    expect = {  # name: (mvr, fa, compression quant or None, rate)
        "Ma": (False, False, None, False), "Mb": (True, False, None, False),
        "Mc": (True, False, "adaptive", True), "Md": (True, True, "adaptive", True),
        "adapq": (True, False, "adaptive", True), "fixedq": (True, False, "fixed", True),
        "noq": (True, False, "none", False), "M1": (True, True, None, False), "M2": (True, True, "adaptive", False),
        "M3": (True, True, "adaptive", True),
    }
    for name, (mvr, fa, quant, rate) in expect.items():
        m = _small(name)
        assert isinstance(m, NCFL)
        ref = m.refiner
        assert (ref.mvr is not None) == mvr, name
        assert (ref.fa is not None) == fa, name
        assert (ref.compression.quant if ref.compression is not None else None) == quant, name
        assert any(n.startswith("refiner.mvr.") for n in _param_names(m)) == mvr
        assert any(n.startswith("refiner.fa.") for n in _param_names(m)) == fa
        m.eval()
        with torch.no_grad():
            out = m(_clip())
        assert isinstance(out, RestorationOutput) and out.frames.shape == (1, 3, 3, H, W)
        assert ("ce_bpp" in out.aux) == rate, name
        if rate:
            assert out.aux["ce_bpp"].dim() == 0 and float(out.aux["ce_bpp"]) > 0


def test_noq_is_a_plain_autoencoder() -> None:
    comp = NeuralCompression(feat_channels=8, channels=8, latent_channels=8, hyper_channels=4, quant="none")
    names = {n for n, _ in comp.named_modules()}
    assert not {"hyper", "prior", "frame_context"} & names
    x = torch.randn(1, 8, 16, 16)
    out = comp(x, torch.rand(1, 3, 16, 16))
    assert out.bits is None and out.step is None
    assert torch.equal(out.latent, comp.encoder(x))  # not quantized: the decoder sees e itself


def test_fixedq_step_is_a_constant_and_adapq_predicts_it() -> None:
    kw = dict(feat_channels=8, channels=8, latent_channels=6, hyper_channels=4)
    fixed = NeuralCompression(quant="fixed", fixed_step=1.0, **kw).eval()  # type: ignore[arg-type]
    adap = NeuralCompression(quant="adaptive", **kw).eval()  # type: ignore[arg-type]
    assert fixed.prior[-1].out_channels == 2 * 6 and adap.prior[-1].out_channels == 3 * 6
    assert "fixed_step" in dict(fixed.named_buffers()) and "fixed_step" not in _param_names(fixed)
    torch.manual_seed(1)
    x, frame = torch.randn(2, 8, 16, 16) * 3, torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        fo, ao = fixed(x, frame), adap(x, frame)
    assert fo.step is not None and torch.all(fo.step == 1.0)
    assert fo.mu is not None and torch.allclose(fo.latent - fo.mu, torch.round(fo.latent - fo.mu), atol=1e-5)
    assert ao.step is not None and ao.scale is not None and ao.mu is not None
    assert torch.all(ao.step > 0) and torch.all(ao.scale > 0) and float(ao.step.std()) > 0
    k = (ao.latent - ao.mu) / ao.step
    assert torch.allclose(k, torch.round(k), atol=1e-3)  # eq. 2 grid, element by element
    assert fo.bits is not None and ao.bits is not None


def test_ce_off_keeps_the_graph_but_drops_the_rate() -> None:
    m3, m2 = _small("M3").eval(), _small("M2").eval()
    assert _param_names(m3) == _param_names(m2)
    m2.load_state_dict(m3.state_dict())
    clip = _clip()
    with torch.no_grad():
        o3, o2 = m3(clip), m2(clip)
    assert "ce_bpp" in o3.aux and o2.aux == {}
    assert torch.allclose(o3.frames, o2.frames)  # same quantization, only the rate term is gone


def test_ce_bpp_gradient_reaches_the_prior() -> None:
    m = _small("Md").train()
    out = m(_clip())
    out.aux["ce_bpp"].backward()
    prior = m.refiner.compression.prior  # type: ignore[union-attr]
    assert prior[-1].weight.grad is not None and float(prior[-1].weight.grad.abs().sum()) > 0


def test_same_seed_same_weights() -> None:
    a, b = _small("Md"), _small("Md")
    torch.manual_seed(1)
    c = build_ncfl("Md", width_scale=0.25, cab_blocks=1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("train", [False, True])
def test_streaming_steps_equal_forward(train: bool) -> None:
    m = _small("Md").train(train)  # ste proxy: deterministic in training mode too
    clip = _clip(4)
    with torch.no_grad():
        full = m(clip)
        state, frames, rates = None, [], []
        for t in range(clip.shape[1]):
            out, state = m.step(clip[:, t], state)
            frames.append(out.frames)
            if t:
                rates.append(out.aux["ce_bpp"])
    assert torch.allclose(torch.stack(frames, 1), full.frames, atol=1e-6)
    assert torch.allclose(torch.stack(rates).mean(), full.aux["ce_bpp"])


def test_bidirectional_output_shape_and_rate() -> None:
    m = _small("bi").eval()
    assert isinstance(m, NCFLBi) and m.temporal_mode == "clip"
    with torch.no_grad():
        out = m(_clip(4))
    assert out.frames.shape == (1, 4, 3, H, W) and float(out.aux["ce_bpp"]) > 0
    assert torch.all(torch.isfinite(out.frames))


def test_noise_map_raw_input_and_odd_sizes() -> None:
    m = _small("Md", blind=False, in_channels=4).eval()
    assert m.uses_noise_map and not _small("Md").uses_noise_map
    clip = torch.rand(2, 3, 4, 27, 37)
    with pytest.raises(ConfigError, match="noise_map"):
        m(clip)
    with torch.no_grad():
        out = m(clip, torch.full((2, 1, 27, 37), 0.1))
        out5 = m(clip, torch.full((2, 3, 1, 27, 37), 0.1))
    assert out.frames.shape == clip.shape and torch.allclose(out.frames, out5.frames)
    raw = torch.arange(4.0).view(1, 4, 1, 1).expand(1, 4, 2, 2)  # planes R, Gr, B, Gb
    assert m.rgb(raw)[0, :, 0, 0].tolist() == [0.0, 2.0, 2.0]


def test_presets_complete_and_smoke_scaling() -> None:
    for name in PRESET_NAMES:
        kw = ncfl_preset(name)
        assert kw == ncfl_preset(name) and "unet_channels" in kw
    assert ncfl_preset("dehaze")["unet_channels"] == (48, 96, 192, 384)
    assert ncfl_preset("L")["restoration"] == "wnet"
    smoke = ncfl_preset("smoke")
    assert smoke["unet_channels"] == (8, 16, 32, 64) and smoke["cab_blocks"] == 1
    assert {k: v for k, v in smoke.items() if k.endswith("channels") is False and k != "cab_blocks"} == {
        k: v for k, v in ncfl_preset("Md").items() if k.endswith("channels") is False and k != "cab_blocks"}
    assert smoke_sized(ncfl_preset("L"), 0.5)["unet_channels"] == (16, 32, 64, 128)
    with pytest.raises(ConfigError, match="unknown NCFL preset"):
        ncfl_preset("Mz")
    with pytest.raises(ConfigError, match="unknown argument"):
        build_ncfl("smoke", widht=3)
