"""EDVR: parity with BasicSR's architecture, parameter counts, importers, padding, CPU/CUDA agreement."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from baselines.edvr import EDVR, EDVR_CONFIGS, EDVRConfig, build_edvr
from baselines.importers_basicsr import load_edvr, mmagic_key_to_basicsr
from workbench.errors import CheckpointError
from workbench.models.base import num_parameters

REF_PATH = Path(__file__).resolve().parents[1] / "data_parity" / "edvr_ref.pt"


@pytest.fixture(scope="module")
def ref() -> dict:
    return torch.load(REF_PATH, map_location="cpu", weights_only=True)


def _basicsr_file(tmp_path: Path, state: dict, key: str = "params") -> Path:
    path = tmp_path / "edvr_basicsr.pth"
    torch.save({key: state}, path)
    return path


def test_param_counts_equal_basicsr(ref):
    assert ref["param_counts"]["L-deblur"] == 23_602_019  # 23.60 M, BasicSR's EDVR-L deblur definition
    assert EDVR_CONFIGS["L-deblur"] == EDVRConfig()
    with torch.device("meta"):
        assert num_parameters(EDVR()) == 23_602_019
    assert set(ref["param_counts"]) == set(EDVR_CONFIGS)
    for name, expected in ref["param_counts"].items():
        with torch.device("meta"):
            model = build_edvr(name)
        assert num_parameters(model) == expected, name


@pytest.mark.parametrize("case", ["deblur", "sr_wotsa"])
def test_parity_with_basicsr(ref, tmp_path, case):
    data = ref[case]
    path = _basicsr_file(tmp_path, data["state_dict"])
    model = load_edvr(path, config=EDVRConfig(**data["config"]))
    assert data["out_of_frame_fraction"] > 0.02  # the reference exercised samples outside the frame
    with torch.no_grad():
        out = model(data["input"])
    assert out.shape == data["output"].shape
    torch.testing.assert_close(out, data["output"], rtol=0, atol=1e-5)


def test_window_model_contract_and_padding(ref):
    data = ref["deblur"]
    model = EDVR(**data["config"]).eval()
    model.load_state_dict(data["state_dict"])
    assert (model.temporal_mode, model.window, model.uses_noise_map, model.scale) == ("window", 5, False, 1)
    x = data["input"][..., :60, :56]  # not multiples of 16: reflect-padded to 64x64 inside forward
    with torch.no_grad():
        out = model(x, noise_map=torch.zeros(1, 1, 60, 56))
        padded = F.pad(x.reshape(5, 3, 60, 56), (0, 8, 0, 4), mode="reflect").view(1, 5, 3, 64, 64)
        expected = model(padded)[..., :60, :56]
    assert out.shape == (1, 3, 60, 56)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="expects"):
        model(data["input"][:, :3])


def test_backward_reaches_deformable_weights(ref):
    data = ref["sr_wotsa"]
    model = EDVR(**data["config"], use_torchvision=False)
    model.load_state_dict(data["state_dict"])
    model(data["input"]).square().mean().backward()
    dcn = model.pcd_align.dcn_pack["l1"]
    for p in (dcn.weight, dcn.conv_offset.weight, model.conv_first.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_param_key_choice(ref, tmp_path):
    data = ref["sr_wotsa"]
    path = tmp_path / "ema.pth"
    junk = {k: torch.zeros_like(v) for k, v in data["state_dict"].items()}
    torch.save({"params": junk, "params_ema": data["state_dict"]}, path)
    cfg = EDVRConfig(**data["config"])
    with torch.no_grad():
        out = load_edvr(path, config=cfg, param_key="params_ema")(data["input"])
        torch.testing.assert_close(out, data["output"], rtol=0, atol=1e-5)
        zero = load_edvr(path, config=cfg)  # BasicSR's default: "params"
        assert all(float(v.abs().sum()) == 0 for v in zero.state_dict().values())


# MMagic EDVRNet names, written from mmagic/models/editors/edvr/edvr_net.py (commit 0a560bb):
# ConvModule layers hold ".conv.", PixelShufflePack holds ".upsample_conv.", PCD is "pcd_alignment".
_MM_CONVMODULE_TOP = {"conv_l2_1": "feat_l2_conv1", "conv_l2_2": "feat_l2_conv2",
                      "conv_l3_1": "feat_l3_conv1", "conv_l3_2": "feat_l3_conv2"}
_MM_TSA_CONVMODULE = {"feat_fusion", "spatial_attn1", "spatial_attn2", "spatial_attn3", "spatial_attn4",
                      "spatial_attn_l1", "spatial_attn_l2", "spatial_attn_l3", "spatial_attn_add1"}


def _to_mmagic(key: str) -> str:
    p = key.split(".")
    if p[0] in _MM_CONVMODULE_TOP:
        return f"{_MM_CONVMODULE_TOP[p[0]]}.conv.{p[1]}"
    if p[0] in ("upconv1", "upconv2"):
        return f"upsample{p[0][-1]}.upsample_conv.{p[1]}"
    if p[0] == "pcd_align":
        if p[1] in ("offset_conv1", "offset_conv2", "offset_conv3", "feat_conv"):
            return f"pcd_alignment.{p[1]}.{p[2]}.conv.{p[3]}"
        if p[1] in ("cas_offset_conv1", "cas_offset_conv2"):
            return f"pcd_alignment.{p[1]}.conv.{p[2]}"
        return "pcd_alignment." + ".".join(p[1:])
    if p[0] == "fusion" and len(p) == 3 and p[1] in _MM_TSA_CONVMODULE:
        return f"fusion.{p[1]}.conv.{p[2]}"
    return key


@pytest.mark.parametrize("with_tsa", [True, False])
def test_mmagic_layout(tmp_path, with_tsa):
    cfg = EDVRConfig(num_feat=8, deformable_groups=2, num_extract_block=1, num_reconstruct_block=2,
                     hr_in=False, with_predeblur=False, with_tsa=with_tsa)
    torch.manual_seed(0)
    src = build_edvr(cfg).state_dict()
    src = {k: torch.randn_like(v) for k, v in src.items()}
    mm = {"generator." + _to_mmagic(k): v for k, v in src.items()}
    assert "generator.pcd_alignment.offset_conv1.l3.conv.weight" in mm
    assert "generator.upsample1.upsample_conv.weight" in mm
    assert ("generator.fusion.spatial_attn_add1.conv.bias" in mm) == with_tsa
    path = tmp_path / "edvr_mmagic.pth"
    torch.save({"meta": {"epoch": 1}, "state_dict": mm}, path)
    loaded = load_edvr(path, config=cfg).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in src.items())
    assert mmagic_key_to_basicsr("fusion.spatial_attn_add2.weight") == "fusion.spatial_attn_add2.weight"
    assert mmagic_key_to_basicsr("pcd_alignment.cas_dcnpack.conv_offset.bias") == (
        "pcd_align.cas_dcnpack.conv_offset.bias")
    with pytest.raises(CheckpointError, match="config='M-sr'"):
        load_edvr(path, config="M-deblur")


def test_checkpoint_errors(ref, tmp_path):
    data = ref["sr_wotsa"]
    state = dict(data["state_dict"])
    state.pop("conv_last.bias")
    state["extra.weight"] = torch.zeros(1)
    path = _basicsr_file(tmp_path, state)
    with pytest.raises(CheckpointError) as err:
        load_edvr(path, config=EDVRConfig(**data["config"]))
    msg = str(err.value)
    assert "\n" not in msg and "conv_last.bias" in msg and "extra.weight" in msg and str(path) in msg
    with pytest.raises(CheckpointError, match="not found"):
        load_edvr(tmp_path / "missing.pth")


def cpu_cuda_max_diff(data: dict) -> float:
    """Largest |CPU − CUDA| output difference of the reference EDVR (TF32 off); for GPU machines."""
    model = EDVR(**data["config"]).eval()
    model.load_state_dict(data["state_dict"])
    tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.no_grad():
            cpu = model(data["input"])
            gpu = model.cuda()(data["input"].cuda()).cpu()
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    return float((cpu - gpu).abs().max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("case", ["deblur", "sr_wotsa"])
def test_cpu_and_cuda_agree(ref, case):
    assert cpu_cuda_max_diff(ref[case]) <= 1e-5


MINI = dict(num_feat=32, num_extract_block=2, num_reconstruct_block=4, deformable_groups=4)


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_feat_stride_sets_the_feature_resolution(stride):
    """The trunk runs at H/stride × W/stride; the output is the input size; the parameter count differs
    from EDVR's stride 4 by exactly the dropped stride-2 convolutions and the narrower tail (c = 32:
    two strided convs 2·(9c²+c) = 18,496; upconv1 9c·4c+4c → 9c·c+c: −27,744; upconv2 9c·256+256 →
    9c·64+64: −55,488)."""
    torch.manual_seed(0)
    model = EDVR(**MINI, feat_stride=stride).eval()
    seen: list[tuple[int, ...]] = []
    model.reconstruction.register_forward_hook(lambda mod, inp, out: seen.append(tuple(inp[0].shape)))
    with torch.no_grad():
        y = model(torch.rand(1, 5, 3, 48, 80))
    assert y.shape == (1, 3, 48, 80)
    assert seen == [(1, 32, 48 // stride, 80 // stride)]
    dropped = {4: 0, 2: 9 * 32 * 32 + 32 + 55_488, 1: 18_496 + 27_744 + 55_488}[stride]
    assert num_parameters(model) == num_parameters(EDVR(**MINI)) - dropped


def test_feat_stride_keeps_basicsr_names_and_rejects_bad_values():
    full = set(EDVR(**MINI).state_dict())
    one = set(EDVR(**MINI, feat_stride=1).state_dict())
    assert full - one == {"predeblur.stride_conv_hr1.weight", "predeblur.stride_conv_hr1.bias",
                          "predeblur.stride_conv_hr2.weight", "predeblur.stride_conv_hr2.bias"}
    assert one <= full
    with pytest.raises(ValueError, match="feat_stride=3"):
        EDVR(**MINI, feat_stride=3)
    with pytest.raises(ValueError, match="feat_stride=1"):
        EDVR(**MINI, feat_stride=1, hr_in=False, with_predeblur=False)


def test_feat_stride_one_pads_to_multiples_of_four_only():
    """Stride 1 needs H, W divisible by 4 (its L3 level), not 16: a 20×28 clip runs without padding."""
    model = EDVR(**MINI, feat_stride=1).eval()
    seen: list[tuple[int, ...]] = []
    model.reconstruction.register_forward_hook(lambda mod, inp, out: seen.append(tuple(inp[0].shape)))
    with torch.no_grad():
        assert model(torch.rand(1, 5, 3, 20, 28)).shape == (1, 3, 20, 28)
    assert seen == [(1, 32, 20, 28)]


def _tsa_logits_at_init(init: str) -> tuple[float, torch.Tensor]:
    """The mini EDVR (Table 1's model_args with TSA) at initialisation on a noisy 64² clip: the std of the
    aligned features entering TSA and TSA's temporal-attention logits ``<θ(F_t), φ(F_ref)>``."""
    torch.manual_seed(0)
    net = EDVR(num_feat=32, num_extract_block=2, num_reconstruct_block=4, deformable_groups=4, feat_stride=1,
               init=init, zero_init_output=True).eval()
    g = torch.Generator().manual_seed(0)
    clip = torch.rand(1, 5, 3, 64, 64, generator=g) + 0.1 * torch.randn(1, 5, 3, 64, 64, generator=g)
    seen: dict[str, torch.Tensor] = {}

    def keep_input(_module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        seen["aligned"] = inputs[0]

    net.fusion.register_forward_hook(keep_input)
    with torch.no_grad():
        net(clip)
        aligned = seen["aligned"]
        b, t, c, h, w = aligned.shape
        tsa = net.fusion
        emb_ref = tsa.temporal_attn1(aligned[:, net.center_frame_idx])
        emb = tsa.temporal_attn2(aligned.reshape(b * t, c, h, w)).view(b, t, c, h, w)
        return float(aligned.std()), (emb * emb_ref.unsqueeze(1)).sum(dim=2)


def test_kaiming_init_saturates_tsa_and_pytorch_init_starves_it():
    """The reason the mini EDVR drops TSA (docstring of ``init``, docs/protocols.md §7): with PyTorch's init the
    features reaching TSA have all but vanished; with Kaiming's they keep their scale but most temporal-attention
    sigmoids saturate below 1e-6."""
    std_pt, logits_pt = _tsa_logits_at_init("pytorch")
    std_k, logits_k = _tsa_logits_at_init("kaiming")
    assert std_pt < 0.05 < 0.3 < std_k
    assert logits_pt.abs().max() < 0.1 and (torch.sigmoid(logits_pt) < 1e-6).float().mean() == 0
    assert logits_k.abs().mean() > 5 and (torch.sigmoid(logits_k) < 1e-6).float().mean() > 0.3
