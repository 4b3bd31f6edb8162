"""Importers of official BasicVSR / BasicVSR++ checkpoints: explicit transfer rules, nothing silent.

The key/shape layouts in ``tests/data_parity/basicvsr_layouts.pt`` were read off the original classes
(BasicSR ``BasicVSR``/``BasicVSRPlusPlus`` and MMagic ``BasicVSRNet``/``BasicVSRPlusPlusNet``, ×4 SR
configuration, num_feat=16, num_block=2, MMagic with its ``generator.`` prefix and ``step_counter``);
see ``README_basicvsr.md``. Fake checkpoints with those layouts are written here and imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor

from baselines.importers_basicvsr import load_basicvsr, load_basicvsrpp
from workbench.errors import CheckpointError

LAYOUTS = torch.load(Path(__file__).resolve().parents[1] / "data_parity" / "basicvsr_layouts.pt",
                     weights_only=True)
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def fake_state(layout: str) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(0)
    out = {}
    for key, shape in LAYOUTS[layout].items():
        stat = key.rsplit(".", 1)[-1]
        if ".spynet." in f".{key}" and stat in IMAGENET:
            out[key] = torch.tensor(IMAGENET[stat]).view(1, 3, 1, 1)
        else:
            out[key] = torch.randn(shape, generator=g)
    return out


def write(tmp_path: Path, layout: str, state: dict[str, Tensor] | None = None) -> tuple[Path, dict]:
    state = fake_state(layout) if state is None else state
    path = tmp_path / f"{layout}.pth"
    mmagic = layout.startswith("mmagic")
    wrapped = {"meta": {"epoch": 1}, "state_dict": state} if mmagic else {"params": state}
    torch.save(wrapped, path)
    return path, state


def accounted(report) -> set[str]:
    return set(report.transferred) | set(report.adapted) | set(report.dropped)


def test_basicsr_basicvsr_to_uni_hr(tmp_path: Path) -> None:
    path, src = write(tmp_path, "basicsr_basicvsr_c64")
    model, rep = load_basicvsr(path, direction="uni", head="hr")
    assert model.num_feat == 64 and len(model.forward_trunk.main[2]) == 1  # inferred from the file
    assert accounted(rep) == set(src) and not rep.initialised and not rep.adapted
    assert set(rep.transferred) == set(model.state_dict())
    dropped_modules = {k.split(".")[0] for k in rep.dropped}
    assert dropped_modules == {"backward_trunk", "fusion", "upconv1", "upconv2", "spynet"}
    assert set(k for k in rep.dropped if k.startswith("spynet")) == {"spynet.mean", "spynet.std"}
    own = model.state_dict()
    for key in ("forward_trunk.main.2.0.conv2.weight", "conv_hr.weight", "conv_last.weight",
                "spynet.basic_module.5.basic_module.8.weight"):
        assert torch.equal(own[key], src[key])
    assert rep.layout == "basicsr" and "0 initialised" in rep.summary()
    assert len(rep.rows()) == len(src)
    out = model(torch.rand(1, 2, 3, 64, 64))
    assert out.shape == (1, 2, 3, 64, 64)


HEAD64 = {"conv_hr.weight", "conv_hr.bias", "conv_last.weight"}


def test_head_width_rule_when_num_feat_is_not_64(tmp_path: Path) -> None:
    # the original tail is 64 wide for every num_feat; ours is num_feat wide: explicit drop + initialise
    path, src = write(tmp_path, "basicsr_basicvsr")
    model, rep = load_basicvsr(path, direction="uni", head="hr")
    assert model.num_feat == 16 and len(model.forward_trunk.main[2]) == 2
    assert set(rep.initialised) == HEAD64 and HEAD64 <= set(rep.dropped)
    assert "conv_last.bias" in rep.transferred
    assert accounted(rep) == set(src)
    assert set(rep.transferred) == set(model.state_dict()) - HEAD64


def test_basicsr_basicvsr_to_bi_up64_initialises_upconvs(tmp_path: Path) -> None:
    path, src = write(tmp_path, "basicsr_basicvsr_c64")
    model, rep = load_basicvsr(path, direction="bi", head="up64")
    assert set(rep.initialised) == {"upconv1.weight", "upconv1.bias", "upconv2.weight", "upconv2.bias"}
    assert "fusion.weight" in rep.transferred and "backward_trunk.main.0.weight" in rep.transferred
    assert set(rep.transferred) == set(model.state_dict()) - set(rep.initialised)
    assert set(rep.dropped) == {"upconv1.weight", "upconv1.bias", "upconv2.weight", "upconv2.bias",
                                "spynet.mean", "spynet.std"}


def test_mmagic_basicvsr_renamed(tmp_path: Path) -> None:
    path, src = write(tmp_path, "mmagic_basicvsr")
    model, rep = load_basicvsr(path, direction="bi", head="min")
    assert rep.layout == "mmagic"
    own = model.state_dict()
    assert torch.equal(own["forward_trunk.main.2.1.conv2.weight"],
                       src["generator.forward_resblocks.main.2.1.conv2.weight"])
    assert torch.equal(own["spynet.basic_module.3.basic_module.4.weight"],
                       src["generator.spynet.basic_module.3.basic_module.2.conv.weight"])
    assert "step_counter" in rep.dropped and rep.dropped["conv_hr.weight"] == "head 'min' has no conv_hr"
    assert set(rep.initialised) == {"conv_last.weight"}  # 64-wide original tail, num_feat=16 here
    assert set(rep.transferred) == set(own) - {"conv_last.weight"}
    assert len(rep.transferred) + len(rep.dropped) == len(src)


@pytest.mark.parametrize("layout", ["basicsr_basicvsrpp", "mmagic_basicvsrpp"])
def test_basicvsrpp_to_uni_slices_backward_inputs(tmp_path: Path, layout: str) -> None:
    path, src = write(tmp_path, layout)
    model, rep = load_basicvsrpp(path, direction="uni", head="hr")
    pre = "generator." if layout.startswith("mmagic") else ""
    own = model.state_dict()
    c = 16
    s = src[pre + "backbone.forward_2.main.0.weight"]  # inputs [spatial, b1, f1, b2, prop]
    kept = torch.cat([s[:, :c], s[:, 2 * c:3 * c], s[:, 4 * c:]], 1)
    assert torch.equal(own["backbone.forward_2.main.0.weight"], kept)
    s = src[pre + "backbone.forward_1.main.0.weight"]  # inputs [spatial, b1, prop]
    assert torch.equal(own["backbone.forward_1.main.0.weight"], torch.cat([s[:, :c], s[:, 2 * c:]], 1))
    assert set(rep.adapted) == {"backbone.forward_1.main.0.weight", "backbone.forward_2.main.0.weight",
                                "reconstruction.main.0.weight"}
    assert torch.equal(own["deform_align.forward_2.conv_offset.6.weight"],
                       src[pre + "deform_align.forward_2.conv_offset.6.weight"])
    assert not any("backward" in k for k in rep.transferred)
    assert all(rule for rule in rep.dropped.values())
    assert len(rep.transferred) + len(rep.adapted) + len(rep.dropped) == len(src)
    assert set(rep.transferred) | set(rep.adapted) == set(own) - HEAD64


def test_basicvsrpp_to_bi_transfers_all_branches(tmp_path: Path) -> None:
    path, src = write(tmp_path, "basicsr_basicvsrpp")
    model, rep = load_basicvsrpp(path, direction="bi")
    assert set(rep.transferred) == set(model.state_dict()) - HEAD64 and not rep.adapted
    assert set(rep.dropped) == {"upconv1.weight", "upconv1.bias", "upconv2.weight", "upconv2.bias",
                                "spynet.mean", "spynet.std"} | HEAD64


def test_wrong_network_is_one_line_error(tmp_path: Path) -> None:
    path, _ = write(tmp_path, "basicsr_basicvsr")
    with pytest.raises(CheckpointError) as err:
        load_basicvsrpp(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    assert "missing keys: backbone.forward_1" in msg and "unexpected keys: backward_trunk" in msg


def test_wrong_num_block_and_extra_key(tmp_path: Path) -> None:
    path, src = write(tmp_path, "basicsr_basicvsr")
    with pytest.raises(CheckpointError, match=r"missing keys: .*forward_trunk\.main\.2\.2\."):
        load_basicvsr(path, num_block=3)
    src["extra.weight"] = torch.zeros(1)
    path, _ = write(tmp_path, "basicsr_basicvsr", src)
    with pytest.raises(CheckpointError, match=r"unexpected keys: extra\.weight"):
        load_basicvsr(path)


def test_shape_mismatch_and_bad_constants(tmp_path: Path) -> None:
    src = fake_state("basicsr_basicvsr")
    src["forward_trunk.main.2.0.conv1.weight"] = torch.zeros(16, 8, 3, 3)
    path, _ = write(tmp_path, "basicsr_basicvsr", src)
    with pytest.raises(CheckpointError, match=r"shape mismatch: forward_trunk\.main\.2\.0\.conv1\.weight"):
        load_basicvsr(path)
    src = fake_state("basicsr_basicvsr")
    src["spynet.mean"] = torch.zeros(1, 3, 1, 1)
    path, _ = write(tmp_path, "basicsr_basicvsr", src)
    with pytest.raises(CheckpointError, match="ImageNet"):
        load_basicvsr(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_basicvsr(tmp_path / "absent.pth")
