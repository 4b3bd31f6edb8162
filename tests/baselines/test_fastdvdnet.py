"""FastDVDNet: parameter count, parity with the official implementation, strict checkpoint import."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from baselines.fastdvdnet import FastDVDNet, load_official_fastdvdnet
from workbench.errors import CheckpointError
from workbench.models.base import RestorationModel, num_parameters

DATA = Path(__file__).resolve().parents[1] / "data_parity"
WEIGHTS = DATA / "fastdvdnet_ref_weights.pth"  # official layout, DataParallel "module." keys
REF = DATA / "fastdvdnet_ref.pt"  # inputs and outputs of the official models.py / temp_denoise


def test_parameter_count_and_interface() -> None:
    model = FastDVDNet()
    assert num_parameters(model) == 2_479_096
    assert isinstance(model, RestorationModel)
    declared = (model.temporal_mode, model.window, model.uses_noise_map, model.in_channels)
    assert declared == ("window", 5, True, 3)


def test_parity_with_official_implementation() -> None:
    model = load_official_fastdvdnet(WEIGHTS)
    ref = torch.load(REF, weights_only=True)
    with torch.no_grad():
        out = model(ref["input"].view(2, 5, 3, 32, 48), ref["noise_map"])
        # 30x45: padded to 32x48 inside forward, as the official temp_denoise does (which also clamps)
        out_odd = model(ref["input_odd"].view(1, 5, 3, 30, 45), ref["noise_map_odd"])
    assert out.shape == (2, 3, 32, 48) and out_odd.shape == (1, 3, 30, 45)
    assert (out - ref["output"]).abs().max().item() <= 1e-5
    assert (out_odd.clamp(0, 1) - ref["output_odd_clamped"]).abs().max().item() <= 1e-5
    assert out.min().item() < 0.0 < 1.0 < out.max().item()  # not clamped inside the network


def test_renamed_key_is_rejected(tmp_path: Path) -> None:
    state = torch.load(WEIGHTS, weights_only=True)
    state["module.temp2.outc.convblock.3.kernel"] = state.pop("module.temp2.outc.convblock.3.weight")
    bad = tmp_path / "renamed.pth"
    torch.save(state, bad)
    with pytest.raises(CheckpointError) as err:
        load_official_fastdvdnet(bad)
    msg = str(err.value)
    assert "temp2.outc.convblock.3.weight" in msg and "temp2.outc.convblock.3.kernel" in msg
    assert str(bad) in msg and "\n" not in msg


def test_old_checkpoint_without_batch_counters_loads(tmp_path: Path) -> None:
    state = torch.load(WEIGHTS, weights_only=True)
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert len(old) < len(state)
    path = tmp_path / "old.pth"
    torch.save(old, path)
    model = load_official_fastdvdnet(path)
    assert not model.training


def test_forward_rejects_bad_inputs() -> None:
    model = FastDVDNet().eval()
    clip = torch.rand(1, 5, 3, 8, 8)
    with pytest.raises(ValueError, match="noise_map"):
        model(clip)
    with pytest.raises(ValueError, match="N, 5, 3"):
        model(torch.rand(1, 3, 3, 8, 8), torch.zeros(1, 1, 8, 8))
