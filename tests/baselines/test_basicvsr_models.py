"""BasicVSR / BasicVSR++ denoising variants: parameter counts, recurrent streaming, shapes, errors."""

from __future__ import annotations

import pytest
import torch

from baselines.basicvsr import BasicVSRBi, BasicVSRUni, build_basicvsr
from baselines.basicvsrpp import BasicVSRPlusPlusBi, BasicVSRPlusPlusUni, build_basicvsrpp
from workbench.models.base import num_parameters


def conv(cin: int, cout: int, k: int = 3) -> int:
    return cin * cout * k * k + cout


def trunk(cin: int, c: int, blocks: int) -> int:
    return conv(cin, c) + blocks * 2 * conv(c, c)


SPYNET = 6 * (conv(8, 32, 7) + conv(32, 64, 7) + conv(64, 32, 7) + conv(32, 16, 7) + conv(16, 2, 7))
HEAD = {"min": conv(64, 3), "hr": conv(64, 64) + conv(64, 3), "up64": 3 * conv(64, 64) + conv(64, 3)}
ALIGN = conv(3 * 64 + 4, 64) + 2 * conv(64, 64) + conv(64, 27 * 16) + conv(128, 64)  # offsets + DCN


def expected(model: str, direction: str, head: str) -> int:
    if model == "basicvsr":
        branches = 1 if direction == "uni" else 2
        return SPYNET + branches * trunk(67, 64, 30) + (0 if branches == 1 else conv(128, 64, 1)) + HEAD[head]
    n = 2 if direction == "uni" else 4
    return (SPYNET + trunk(3, 64, 5) + n * ALIGN + sum(trunk((2 + i) * 64, 64, 7) for i in range(n))
            + trunk((1 + n) * 64, 64, 5) + HEAD[head])


# exact counts of the full configurations (64 channels; 30 blocks BasicVSR, 7 blocks BasicVSR++)
PARAMS = {
    ("basicvsr", "uni"): {"min": 3_696_367, "hr": 3_733_295, "up64": 3_807_151},
    ("basicvsr", "bi"): {"min": 5_958_959, "hr": 5_995_887, "up64": 6_069_743},
    ("basicvsrpp", "uni"): {"min": 4_531_215, "hr": 4_568_143, "up64": 4_641_999},
    ("basicvsrpp", "bi"): {"min": 6_990_575, "hr": 7_027_503, "up64": 7_101_359},
}


@pytest.mark.parametrize(("model", "direction"), list(PARAMS))
def test_parameter_counts_of_full_configs(model: str, direction: str) -> None:
    assert SPYNET == 1_440_300
    build = build_basicvsr if model == "basicvsr" else build_basicvsrpp
    for head, count in PARAMS[(model, direction)].items():
        with torch.device("meta"):
            net = build(direction=direction, head=head)  # type: ignore[arg-type]
        n = num_parameters(net)
        print(f"{model}-{direction} head={head}: {n:,} parameters ({n / 1e6:.2f} M)")
        assert n == count == expected(model, direction, head)


def test_temporal_modes_and_classes() -> None:
    with torch.device("meta"):
        assert isinstance(build_basicvsr(direction="uni"), BasicVSRUni)
        assert isinstance(build_basicvsr(direction="bi"), BasicVSRBi)
        assert isinstance(build_basicvsrpp(direction="uni"), BasicVSRPlusPlusUni)
        assert isinstance(build_basicvsrpp(direction="bi"), BasicVSRPlusPlusBi)
    assert BasicVSRUni.temporal_mode == BasicVSRPlusPlusUni.temporal_mode == "recurrent"
    assert BasicVSRBi.temporal_mode == BasicVSRPlusPlusBi.temporal_mode == "clip"


def _randomise(net: torch.nn.Module) -> torch.nn.Module:
    # the default init zeroes the offset residues; random ones exercise the deformable alignment
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_((torch.rand(p.shape, generator=g) - 0.5) * 2 * p[0].numel() ** -0.5 if p.dim() > 1
                    else 0.05 * torch.randn(p.shape, generator=g))
    return net.eval()


@pytest.mark.parametrize("build", [build_basicvsr, build_basicvsrpp])
def test_streaming_steps_equal_forward(build) -> None:
    # forward loops step; that forward equals the original whole-clip implementation is the parity test
    torch.manual_seed(0)
    net = _randomise(build(direction="uni", num_feat=8, num_block=1))
    clip = torch.rand(1, 4, 3, 64, 72)
    with torch.no_grad():
        full = net(clip)
        state, outs, shapes = None, [], []
        for t in range(4):  # frame by frame, as the streaming evaluator does
            out, state = net.step(clip[:, t].clone(), state)
            outs.append(out)
            shapes.append([tuple(s.shape) for s in state if s is not None])
    assert full.shape == clip.shape
    assert torch.equal(torch.stack(outs, 1), full)
    assert shapes[2] == shapes[3]  # constant-size state once second-order terms exist
    # causality: the first frames do not depend on later ones
    later = clip.clone()
    later[:, 3] = 0
    with torch.no_grad():
        assert torch.equal(net(later)[:, :3], full[:, :3])


@pytest.mark.parametrize("build", [build_basicvsr, build_basicvsrpp])
def test_bidirectional_uses_future_frames(build) -> None:
    net = _randomise(build(direction="bi", num_feat=8, num_block=1))
    clip = torch.rand(1, 3, 3, 64, 64)
    later = clip.clone()
    later[:, 2] = 0
    with torch.no_grad():
        a, b = net(clip), net(later)
        single = net(clip[:, :1])
    assert a.shape == clip.shape and single.shape == (1, 1, 3, 64, 64)
    assert (a[:, 0] - b[:, 0]).abs().max() > 1e-6


def test_alignment_is_used_on_cpu() -> None:
    net = _randomise(build_basicvsrpp(direction="uni", num_feat=8, num_block=1))
    clip = torch.rand(1, 3, 3, 64, 64)
    with torch.no_grad():
        a = net(clip)
        for m in net.deform_align.values():
            m.weight.zero_()
        b = net(clip)
    assert torch.equal(a[:, 0], b[:, 0])  # no alignment at t=0
    assert (a[:, 2] - b[:, 2]).abs().max() > 1e-5


def test_gradients_reach_alignment() -> None:
    net = _randomise(build_basicvsrpp(direction="uni", num_feat=8, num_block=1)).train()
    net(torch.rand(1, 3, 3, 64, 64)).square().mean().backward()
    grad = net.deform_align["forward_1"].conv_offset[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="head"):
        build_basicvsr(head="x4", num_feat=8, num_block=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="direction"):
        build_basicvsrpp(direction="both", num_feat=8, num_block=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(N, T, 3, H, W\)"):
        build_basicvsr(num_feat=8, num_block=1)(torch.rand(1, 3, 64, 64))
