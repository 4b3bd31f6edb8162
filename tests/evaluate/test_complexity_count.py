"""Closed-form MAC counts of single operators and behaviour of the per-frame counting rules."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.evaluate.complexity.count import InputSpec, count_model
from workbench.evaluate.complexity.deform import deform_rules
from workbench.evaluate.complexity.dispatch import count_full
from workbench.evaluate.complexity.thop_style import count_paper
from workbench.models.base import RestorationModel
from workbench.models.gdn import GDN
from workbench.models.warp import flow_warp
from workbench.ops import DCNv2Pack, ModulatedDeformConv2d


def _both(module: nn.Module, *inputs: Tensor, transposed: str = "true") -> tuple[float, float]:
    paper = count_paper(module, lambda: module(*inputs), transposed=transposed)  # type: ignore[arg-type]
    full = count_full(lambda: module(*inputs), deform_rules())
    assert not full.uncounted
    return paper.total, full.total


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_conv_closed_form(device: str) -> None:
    conv = nn.Conv2d(4, 6, 3, padding=1).to(device)
    paper, full = _both(conv, torch.rand(1, 4, 10, 12, device=device))
    assert paper == 6 * 10 * 12 * 4 * 9  # out elements x C_in x k^2, bias not in the paper column
    assert full == 6 * 10 * 12 * 4 * 9 + 6 * 10 * 12  # + one add per output element for the bias


def test_grouped_strided_conv_closed_form() -> None:
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=False)
    paper, full = _both(conv, torch.rand(2, 4, 10, 12))
    assert paper == full == 2 * 6 * 5 * 6 * (4 // 2) * 9


def test_transposed_conv_true_vs_thop() -> None:
    conv = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, bias=False)
    x = torch.rand(1, 4, 5, 6)
    paper, full = _both(conv, x)
    assert paper == full == 4 * 5 * 6 * 2 * 16  # input elements x C_out x k^2
    thop, _ = _both(conv, x, transposed="thop")
    assert thop == 4 * paper  # thop 0.1.1 over-counts by stride^2


@pytest.mark.parametrize("mode, per_element, per_point", [("bilinear", 4, 6), ("nearest", 0, 2)])
def test_grid_sample_closed_form(mode: str, per_element: int, per_point: int) -> None:
    x, grid = torch.rand(1, 3, 8, 10), torch.rand(1, 5, 7, 2) * 2 - 1
    full = count_full(lambda: F.grid_sample(x, grid, mode=mode, align_corners=True))
    assert full.total == per_element * 3 * 5 * 7 + per_point * 5 * 7
    assert count_paper(nn.Identity(), lambda: F.grid_sample(x, grid, align_corners=True)).total == 0


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_deformable_conv_closed_form(device: str) -> None:
    n, cin, cout, h, w, dg = 1, 4, 6, 7, 9, 2
    dcn = ModulatedDeformConv2d(in_channels=cin, out_channels=cout, kernel_size=3, padding=1,
                                deformable_groups=dg).to(device)
    x = torch.rand(n, cin, h, w, device=device)
    offset = torch.rand(n, 2 * dg * 9, h, w, device=device)
    mask = torch.rand(n, dg * 9, h, w, device=device)
    paper, full = _both(dcn, x, offset, mask)
    weights, sampling, points, bias = cout * cin * 9, cin * 9 * (4 + 1), dg * 9 * 6, cout
    assert full == n * h * w * (weights + sampling + points + bias)  # none of the plain implementation's ops
    assert paper == 0  # the paper's convention: the main deformable conv is invisible


def test_dcn_pack_counts_offset_conv_in_both_columns() -> None:
    pack = DCNv2Pack(in_channels=4, out_channels=4, kernel_size=3, padding=1, deformable_groups=1)
    x = torch.rand(1, 4, 6, 6)
    paper, full = _both(pack, x)
    offset_conv = 27 * 36 * 4 * 9
    assert paper == offset_conv
    dcn = 36 * (4 * 4 * 9 + 4 * 9 * 5 + 9 * 6 + 4)
    assert full == offset_conv + 27 * 36 + dcn + 9 * 36  # conv bias, DCN, sigmoid of the mask


def test_uncounted_ops_are_reported_not_zeroed() -> None:
    x = torch.rand(1, 2, 8, 8)
    full = count_full(lambda: torch.fft.rfft2(x).abs())
    assert full.uncounted and any("fft" in k for k in full.uncounted)


class _Window(RestorationModel):
    temporal_mode = "window"
    window = 3
    uses_noise_map = True

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(10, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.gdn = GDN(channels=8)
        self.out = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        n, t, c, h, w = clip.shape
        assert noise_map is not None
        y = self.gdn(F.leaky_relu(self.bn(self.conv(torch.cat([clip.reshape(n, t * c, h, w), noise_map], 1)))))
        return self.out(y) + clip[:, 1]


class _Recurrent(RestorationModel):
    """Toy recurrent model: flow from a conv, warped state, DCN on the state."""

    temporal_mode = "recurrent"

    def __init__(self) -> None:
        super().__init__()
        self.flow = nn.Conv2d(6, 2, 3, padding=1)
        self.fuse = nn.Conv2d(3 + 4, 4, 3, padding=1)
        self.align = DCNv2Pack(in_channels=4, out_channels=4, kernel_size=3, padding=1)
        self.out = nn.Conv2d(4, 3, 3, padding=1)

    def step(self, frame: Tensor, state: tuple[Tensor, Tensor] | None, noise_map: Tensor | None = None):  # type: ignore[override]
        if state is None:
            h = frame.new_zeros(frame.shape[0], 4, *frame.shape[-2:])
        else:
            h, prev = state
            h = self.align(flow_warp(h, self.flow(torch.cat([frame, prev], 1))))
        h = torch.relu(self.fuse(torch.cat([frame, h], 1)))
        return self.out(h) + frame, (h, frame)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        state, outs = None, []
        for t in range(clip.shape[1]):
            y, state = self.step(clip[:, t], state)
            outs.append(y)
        return torch.stack(outs, 1)


@pytest.mark.parametrize("model_cls", [_Window, _Recurrent])
def test_meta_count_equals_real_count(model_cls: type) -> None:
    spec = InputSpec(height=12, width=20)
    torch.manual_seed(0)
    real = count_model("toy", model_cls(), spec, device="cpu")
    meta = count_model("toy", model_cls(), spec, device="meta")
    assert (real.macs_paper, real.macs_full, real.full_by_op) == (meta.macs_paper, meta.macs_full, meta.full_by_op)
    assert not real.uncounted_ops


def test_counts_scale_linearly_with_pixels() -> None:
    small = count_model("toy", _Recurrent(), InputSpec(height=12, width=20), device="cpu")
    large = count_model("toy", _Recurrent(), InputSpec(height=24, width=60), device="cpu")
    assert large.macs_paper == 6 * small.macs_paper
    assert large.macs_full == 6 * small.macs_full
    assert "deform_conv" in small.full_by_op and "grid_sampler_2d" in small.full_by_op


def test_recurrent_per_frame_cost_does_not_depend_on_t() -> None:
    def per_frame(t: int):  # type: ignore[no-untyped-def]
        return count_model("toy", _Recurrent(), InputSpec(height=8, width=8, steady_frames=t), device="cpu")

    counts = {t: per_frame(t) for t in (3, 5, 8)}
    assert len({(c.macs_paper, c.macs_full) for c in counts.values()}) == 1
    first_frame = per_frame(2)
    assert first_frame.macs_full == counts[3].macs_full  # frame 1 already has flow + alignment


def test_size_multiple_is_applied_and_recorded() -> None:
    c = count_model("toy", _Window(), InputSpec(height=10, width=20, size_multiple=8))
    assert c.counted_resolution == (16, 24)
