"""SPyNet: parity with BasicSR, closed-form flow scaling, BasicSR/MMagic checkpoint key maps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workbench.errors import CheckpointError
from workbench.models.spynet import SPyNet, load_spynet

DATA = Path(__file__).resolve().parents[1] / "data_parity"
WEIGHTS = DATA / "spynet_ref_weights.pth"  # BasicSR layout: {"params": {...}}
REF = DATA / "spynet_ref.pt"  # inputs and flows of BasicSR's SpyNet


def _flows(model: SPyNet) -> tuple[torch.Tensor, torch.Tensor]:
    ref = torch.load(REF, weights_only=True)
    with torch.no_grad():
        return model(ref["ref"], ref["supp"]), model(ref["ref64"], ref["supp64"])


def test_parity_with_basicsr() -> None:
    ref = torch.load(REF, weights_only=True)
    model = load_spynet(WEIGHTS)
    flow, flow64 = _flows(model)
    assert flow.shape == (2, 2, 40, 56) and flow64.shape == (1, 2, 64, 64)
    assert (flow - ref["flow"]).abs().max().item() <= 1e-5
    assert (flow64 - ref["flow64"]).abs().max().item() <= 1e-5
    assert flow.abs().max().item() > 1.0  # the warps inside the pyramid really move pixels
    assert sum(p.numel() for p in model.parameters()) == 1_440_300
    assert not any(k in model.state_dict() for k in ("mean", "std"))


def _mmagic_file(tmp_path: Path, *, prefix: str, mean_shift: float = 0.0) -> Path:
    params = torch.load(WEIGHTS, weights_only=True)["params"]
    state: dict[str, torch.Tensor] = {}
    for key, value in params.items():
        level, _, j, kind = key.split(".")[1:]
        state[f"{prefix}basic_module.{level}.basic_module.{int(j) // 2}.conv.{kind}"] = value
    state[prefix + "mean"] = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) + mean_shift
    state[prefix + "std"] = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    state["generator.conv_last.weight"] = torch.zeros(3, 64, 3, 3)  # rest of a BasicVSR network
    path = tmp_path / "mmagic.pth"
    torch.save({"meta": {"epoch": 1}, "state_dict": state}, path)
    return path


@pytest.mark.parametrize("prefix", ["generator.spynet.", "spynet."])
def test_mmagic_layout_loads_same_weights(tmp_path: Path, prefix: str) -> None:
    a = _flows(load_spynet(WEIGHTS))
    b = _flows(load_spynet(_mmagic_file(tmp_path, prefix=prefix)))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_basicsr_whole_network_file(tmp_path: Path) -> None:
    params = torch.load(WEIGHTS, weights_only=True)["params"]
    whole = {"spynet." + k: v for k, v in params.items()} | {"fusion.weight": torch.zeros(64, 128, 1, 1)}
    path = tmp_path / "basicvsr.pth"
    torch.save({"params": whole}, path)
    assert torch.equal(_flows(load_spynet(path))[1], _flows(load_spynet(WEIGHTS))[1])


def test_bad_files_raise_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not the ImageNet mean"):
        load_spynet(_mmagic_file(tmp_path, prefix="generator.spynet.", mean_shift=0.1))
    params = torch.load(WEIGHTS, weights_only=True)["params"]
    del params["basic_module.5.basic_module.8.bias"]
    torch.save({"params": params}, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match=r"missing keys: basic_module\.5\.basic_module\.8\.bias"):
        load_spynet(tmp_path / "missing.pth")
    torch.save({"params": {"conv.weight": torch.zeros(1)}}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="no SPyNet weights"):
        load_spynet(tmp_path / "other.pth")


def _constant_flow_net(level: int, bias: tuple[float, float]) -> SPyNet:
    """All weights zero; the last conv of ``level`` outputs ``bias`` everywhere."""
    net = SPyNet()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        last = net.get_submodule(f"basic_module.{level}.basic_module.8")
        assert isinstance(last, torch.nn.Conv2d) and last.bias is not None
        last.bias.copy_(torch.tensor(bias))
    return net


def test_flow_doubles_per_level_and_rescales_to_input_size() -> None:
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        fine = _constant_flow_net(5, (1.5, -0.5))(x, x)
        coarse = _constant_flow_net(0, (0.25, 0.125))(x, x)
        odd = _constant_flow_net(5, (1.5, -0.5))(x[..., :40, :56], x[..., :40, :56])
    torch.testing.assert_close(fine, torch.tensor([1.5, -0.5]).view(1, 2, 1, 1).expand(1, 2, 64, 96))
    torch.testing.assert_close(coarse, torch.tensor([8.0, 4.0]).view(1, 2, 1, 1).expand(1, 2, 64, 96))
    # 40x56 runs at 64x64; the flow is resized back and scaled by 56/64 (x) and 40/64 (y)
    expected = torch.tensor([1.5 * 56 / 64, -0.5 * 40 / 64]).view(1, 2, 1, 1).expand(1, 2, 40, 56)
    torch.testing.assert_close(odd, expected)


def test_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="equal shape"):
        SPyNet()(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 64))
