"""EDVR ``init="kaiming"``: the convolutions outside the residual blocks get the Kaiming-normal scale of
LeakyReLU(0.1) (std = gain/√fan_in), the residual blocks and the zero offset predictors are untouched, and
the gradient reaches the first layer (with PyTorch's default it has all but vanished there)."""

import math

import pytest
import torch

from workbench.zoo import build_model

ARGS = {"num_feat": 32, "num_extract_block": 2, "num_reconstruct_block": 4, "deformable_groups": 4}


def _grad_at_first_layer(init: str) -> float:
    model = build_model("edvr", {**ARGS, "init": init}, seed=0, where="test")
    clip = torch.rand(2, 5, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    (model(clip) - clip[:, 2]).pow(2).mean().backward()
    grad = model.state_dict(keep_vars=True)["predeblur.conv_first.weight"].grad
    assert grad is not None
    return float(grad.norm())


def test_kaiming_scale_outside_the_residual_blocks() -> None:
    default = build_model("edvr", ARGS, seed=0, where="test").state_dict()
    kaiming = build_model("edvr", {**ARGS, "init": "kaiming"}, seed=0, where="test").state_dict()
    gain = math.sqrt(2.0 / (1 + 0.1**2))
    for name in ("predeblur.conv_first.weight", "conv_l2_1.weight", "pcd_align.dcn_pack.l1.weight", "upconv1.weight"):
        w = kaiming[name]
        expected = gain / math.sqrt(w[0].numel())
        assert abs(float(w.std()) / expected - 1) < 0.1, name
        assert float(kaiming[name.replace("weight", "bias")].abs().max()) == 0.0
    for name, value in kaiming.items():  # residual blocks (Kaiming × 0.1 already) and offset predictors unchanged
        if name.startswith(("feature_extraction.", "reconstruction.")) or ".conv_offset." in name:
            assert torch.equal(value, default[name]), name


def test_the_gradient_reaches_the_first_layer() -> None:
    assert _grad_at_first_layer("pytorch") < 1e-5
    assert _grad_at_first_layer("kaiming") > 1e-2


def test_unknown_init_is_refused() -> None:
    with pytest.raises(ValueError, match="init="):
        build_model("edvr", {**ARGS, "init": "xavier"}, seed=0, where="test")
