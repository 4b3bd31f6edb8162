"""Raw models: RViDeNet parity with the official architecture, EMVD structure and cost, raw variants' shapes
and the complexity rows of the paper-size raw models."""

from pathlib import Path

import pytest
import torch

from baselines.emvd import EMVD, Haar, emvd_l, emvd_s
from baselines.raw_variants import BasicVSRPlusPlusUniRaw, BasicVSRUniRaw, FastDVDNetRaw, edvr_raw
from baselines.rvidenet import RViDeNet
from workbench.degrade.raw_noise import params_map
from workbench.evaluate.complexity.count import InputSpec, count_model
from workbench.zoo import build_model

PARITY = Path(__file__).resolve().parents[1] / "data_parity" / "rvidenet_ref.pt"


def test_rvidenet_matches_official_code() -> None:
    ref = torch.load(PARITY, weights_only=True)
    model = RViDeNet(**ref["config"]).eval()
    state = {k.replace("conv_offset_mask", "conv_offset"): v.float() if v.is_floating_point() else v
             for k, v in ref["state_dict"].items()}
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        out = model(ref["input"])
    assert float((out - ref["output"]).abs().max()) < 1e-5
    assert float((out - ref["input"][:, 1]).abs().max()) > 1e-2  # the network does something


def test_rvidenet_parameter_count_is_the_official() -> None:
    model = RViDeNet()
    assert sum(p.numel() for p in model.parameters()) == 8_572_916  # docs/complexity.md §4: 8.573 M
    assert sum(p.numel() for p in model.pre_denoise.parameters()) == 7_698_116


def test_haar_is_perfect_reconstruction() -> None:
    x = torch.rand(2, 4, 8, 12)
    torch.testing.assert_close(Haar().inverse(Haar()(x)), x, atol=1e-6, rtol=0)


def test_emvd_configurations_and_cost() -> None:
    assert sum(p.numel() for p in emvd_s().parameters()) == 41_356  # the unofficial code's base model
    spec = InputSpec(height=540, width=960, channels=4, steady_frames=3)
    s = count_model("emvd-s", emvd_s(), spec, device="meta")
    big = count_model("emvd-l", emvd_l(), spec, device="meta")
    assert 2 * s.macs_paper / 1e9 == pytest.approx(5.88, abs=0.01)  # paper Table 1: 5
    assert 2 * big.macs_paper / 1e9 == pytest.approx(1095.6, abs=0.5)  # paper Table 1: 1106
    assert s.uncounted_ops == {} and big.uncounted_ops == {}


def test_emvd_recurrence_uses_the_noise_map() -> None:
    torch.manual_seed(0)
    m = EMVD(channels=8, feat_layers=2).eval()
    clip = torch.rand(1, 3, 4, 16, 24)
    low, high = params_map(1e-4, 1e-6, height=16, width=24), params_map(1e-2, 1e-3, height=16, width=24)
    with torch.no_grad():
        a, b = m(clip, low), m(clip, high)
    assert a.shape == clip.shape and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="non-blind"):
        m(clip)


@pytest.mark.parametrize("ctor,kwargs", [
    (FastDVDNetRaw, {"base_channels": 8}),
    (edvr_raw, {"num_feat": 8, "num_extract_block": 1, "num_reconstruct_block": 1, "deformable_groups": 2}),
    (BasicVSRUniRaw, {"num_feat": 8, "num_block": 1}),
    (BasicVSRPlusPlusUniRaw, {"num_feat": 8, "num_block": 1, "deformable_groups": 2}),
])
def test_raw_variants_take_and_return_four_planes(ctor, kwargs) -> None:
    m = ctor(**kwargs).eval()
    t = m.window if m.temporal_mode == "window" else 3
    clip = torch.rand(1, t, 4, 32, 48)
    with torch.no_grad():
        out = m(clip, params_map(1e-3, 1e-5, height=32, width=48))
    assert out.shape[-3:] == (4, 32, 48)
    with pytest.raises(ValueError):
        m(torch.rand(1, t, 3, 32, 48), params_map(1e-3, 1e-5, height=32, width=48))


def test_ncfl_raw_and_ours_l_build_from_the_registry() -> None:
    base = build_model("ncfl", {"preset": "Md", "in_channels": 4, "width_scale": 0.25, "cab_blocks": 1},
                       seed=0, where="test")
    large = build_model("ncfl", {"preset": "L", "in_channels": 4, "width_scale": 0.25, "cab_blocks": 1},
                        seed=0, where="test")
    clip = torch.rand(1, 2, 4, 32, 32)
    with torch.no_grad():
        assert base(clip).frames.shape == clip.shape and large(clip).frames.shape == clip.shape
    assert sum(p.numel() for p in large.parameters()) > sum(p.numel() for p in base.parameters())


def test_emvd_s_matches_the_unofficial_implementation() -> None:
    from baselines.emvd import state_from_unofficial

    ref = torch.load(PARITY.with_name("emvd_ref.pt"), weights_only=True)
    model = emvd_s().eval()
    model.load_state_dict({k: v.float() for k, v in state_from_unofficial(ref["state_dict"]).items()}, strict=True)
    clip = ref["clip"]
    nmap = params_map(ref["a_n"], ref["b_n"], height=clip.shape[-2], width=clip.shape[-1])
    nmap = nmap.expand(clip.shape[0], -1, -1, -1)
    state = None
    with torch.no_grad():
        for t in range(clip.shape[1]):
            out, state = model.step(clip[:, t], state, nmap)
            assert float((out - ref["out"][:, t]).abs().max()) < 1e-5
            assert float((state - ref["fusion"][:, t]).abs().max()) < 1e-5
