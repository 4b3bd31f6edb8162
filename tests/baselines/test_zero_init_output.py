"""``zero_init_output``: the untrained FastDVDNet / EDVR return their centre input frame exactly (the
default initialisation does not), and the option changes nothing else."""

import torch

from workbench.zoo import build_model


def _clip() -> torch.Tensor:
    return torch.rand(1, 5, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_fastdvdnet_starts_as_the_identity_on_its_middle_frame() -> None:
    clip, nmap = _clip(), torch.full((1, 1, 32, 32), 25 / 255)
    plain = build_model("fastdvdnet", {"base_channels": 8}, seed=0, where="test").eval()
    zero = build_model("fastdvdnet", {"base_channels": 8, "zero_init_output": True}, seed=0, where="test").eval()
    with torch.no_grad():
        assert torch.equal(zero(clip, nmap), clip[:, 2])
        assert not torch.allclose(plain(clip, nmap), clip[:, 2], atol=1e-3)
    changed = [k for k, v in plain.state_dict().items() if not torch.equal(v, zero.state_dict()[k])]
    assert changed == ["temp1.outc.convblock.3.weight", "temp2.outc.convblock.3.weight"]


def test_edvr_starts_as_the_identity_on_its_centre_frame() -> None:
    args = {"num_feat": 8, "num_extract_block": 1, "num_reconstruct_block": 1, "deformable_groups": 2}
    zero = build_model("edvr", {**args, "zero_init_output": True}, seed=0, where="test").eval()
    with torch.no_grad():
        assert torch.equal(zero(_clip()), _clip()[:, 2])
