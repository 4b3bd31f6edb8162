"""Modulated deformable convolution against a direct per-pixel reference (float64, tiny shapes)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from workbench.errors import ConfigError, ToolError
from workbench.ops import DCNv2Pack, ModulatedDeformConv2d, modulated_deform_conv2d, torchvision_available
from workbench.ops import deform_conv as dc_mod


def _bilinear_zero(img: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sample img (C, H, W) at (y, x): four corners, each only if inside the frame (torchvision kernel)."""
    c, h, w = img.shape
    if y <= -1 or y >= h or x <= -1 or x >= w:
        return img.new_zeros(c)
    y0, x0 = math.floor(y.item()), math.floor(x.item())
    ly, lx = y - y0, x - x0
    acc = img.new_zeros(c)
    for yy, xx, wt in ((y0, x0, (1 - ly) * (1 - lx)), (y0, x0 + 1, (1 - ly) * lx),
                       (y0 + 1, x0, ly * (1 - lx)), (y0 + 1, x0 + 1, ly * lx)):
        if 0 <= yy < h and 0 <= xx < w:
            acc = acc + wt * img[:, yy, xx]
    return acc


def _reference(x, offset, mask, weight, bias, stride, padding, dilation, groups, dg):
    n, cin, h, w = x.shape
    cout, cpg, kh, kw = weight.shape
    ho, wo = offset.shape[-2:]
    cdg = cin // dg
    cols = []  # cols[b][c][k] -> (Ho, Wo) built from scalars
    for b in range(n):
        per_c = [[None] * (kh * kw) for _ in range(cin)]
        for g in range(dg):
            for k in range(kh * kw):
                i, j = divmod(k, kw)
                rows = []
                for oy in range(ho):
                    row = []
                    for ox in range(wo):
                        oc = 2 * (g * kh * kw + k)
                        y = oy * stride[0] - padding[0] + i * dilation[0] + offset[b, oc, oy, ox]
                        xx = ox * stride[1] - padding[1] + j * dilation[1] + offset[b, oc + 1, oy, ox]
                        v = _bilinear_zero(x[b, g * cdg:(g + 1) * cdg], y, xx)
                        if mask is not None:
                            v = v * mask[b, g * kh * kw + k, oy, ox]
                        row.append(v)
                    rows.append(torch.stack(row, dim=-1))
                val = torch.stack(rows, dim=-2)  # (cdg, Ho, Wo)
                for cl in range(cdg):
                    per_c[g * cdg + cl][k] = val[cl]
        cols.append(torch.stack([torch.stack(p) for p in per_c]))  # (Cin, K, Ho, Wo)
    col = torch.stack(cols)  # (N, Cin, K, Ho, Wo)
    outs = []
    opg = cout // groups
    for gi in range(groups):
        wg = weight[gi * opg:(gi + 1) * opg].reshape(opg, cpg, kh * kw)
        outs.append(torch.einsum("ock,nckyx->noyx", wg, col[:, gi * cpg:(gi + 1) * cpg]))
    out = torch.cat(outs, dim=1)
    return out + bias.view(1, -1, 1, 1) if bias is not None else out


def _set_budget(monkeypatch, budget):
    """The same column budget with and without a backward to follow."""
    monkeypatch.setattr(dc_mod, "_COLUMN_BUDGET_BYTES", budget)
    monkeypatch.setattr(dc_mod, "_INFERENCE_BUDGET_BYTES", budget)


CASES = [
    # (N, Cin, Cout, H, W, kernel, stride, padding, dilation, groups, dg)
    (2, 4, 6, 5, 6, (3, 3), (1, 1), (1, 1), (1, 1), 2, 2),
    (1, 4, 4, 7, 6, (2, 3), (2, 1), (0, 2), (2, 1), 2, 2),
]


def _inputs(case, dtype=torch.float64, seed=0):
    n, cin, cout, h, w, (kh, kw), st, pd, dl, groups, dg = case
    gen = torch.Generator().manual_seed(seed)
    ho = (h + 2 * pd[0] - (dl[0] * (kh - 1) + 1)) // st[0] + 1
    wo = (w + 2 * pd[1] - (dl[1] * (kw - 1) + 1)) // st[1] + 1
    x = torch.randn(n, cin, h, w, generator=gen, dtype=dtype)
    offset = 2.5 * torch.randn(n, 2 * dg * kh * kw, ho, wo, generator=gen, dtype=dtype)
    offset[:, 0, 0, 0] = -7.3  # far outside the frame
    offset[:, 1, -1, -1] = 9.1
    mask = torch.rand(n, dg * kh * kw, ho, wo, generator=gen, dtype=dtype)
    weight = torch.randn(cout, cin // groups, kh, kw, generator=gen, dtype=dtype)
    bias = torch.randn(cout, generator=gen, dtype=dtype)
    return x, offset, mask, weight, bias, st, pd, dl, groups, dg


@pytest.mark.parametrize("case", CASES)
def test_forward_and_gradients_match_per_pixel_reference(case):
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case)
    tensors = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    ref_t = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    out = modulated_deform_conv2d(*tensors[:3], tensors[3], tensors[4], st, pd, dl, groups, dg,
                                  use_torchvision=False)
    ref = _reference(*ref_t, st, pd, dl, groups, dg)
    assert out.shape == ref.shape
    assert (ref.abs() > 0).any()
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    probe = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=ref.dtype)
    (out * probe).sum().backward()
    (ref * probe).sum().backward()
    for name, a, b in zip(("input", "offset", "mask", "weight", "bias"), tensors, ref_t):
        assert b.grad is not None and a.grad is not None
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-9, msg=f"grad {name}")
    # float32 path agrees with the float64 reference to 1e-5
    out32 = modulated_deform_conv2d(*(t.float() for t in (x, offset, mask, weight, bias)), st, pd, dl,
                                    use_torchvision=False)
    torch.testing.assert_close(out32.double(), ref.detach(), rtol=0, atol=1e-5)


def test_gradcheck_float64():
    case = (1, 2, 2, 4, 4, (2, 2), (1, 1), (1, 0), (1, 1), 1, 2)
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case, seed=3)
    args = tuple(t.requires_grad_(True) for t in (x, offset, mask, weight, bias))

    def fn(*t):
        return modulated_deform_conv2d(*t, st, pd, dl, groups, dg, use_torchvision=False)

    assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-6)


def test_chunked_rows_and_no_mask(monkeypatch):
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[0])
    full = modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, use_torchvision=False)
    per_row = x.shape[0] * x.shape[1] * 9 * offset.shape[-1] * x.element_size()
    for budget in (1, 2 * per_row):  # one output row per chunk; chunks of 2, 2, 1 rows
        _set_budget(monkeypatch, budget)
        torch.testing.assert_close(
            modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, use_torchvision=False),
            full, rtol=0, atol=1e-12)
    ones = torch.ones_like(mask)
    torch.testing.assert_close(
        modulated_deform_conv2d(x, offset, None, weight, bias, st, pd, dl, use_torchvision=False),
        modulated_deform_conv2d(x, offset, ones, weight, bias, st, pd, dl, use_torchvision=False))


@pytest.mark.parametrize("budget", [None, 1])
@pytest.mark.parametrize("with_mask", [True, False])
def test_gradcheck_chunks_and_no_mask(monkeypatch, budget, with_mask):
    if budget is not None:
        _set_budget(monkeypatch, budget)  # one output row per chunk
    case = (1, 4, 2, 4, 5, (3, 3), (1, 1), (1, 1), (1, 1), 2, 2)
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case, seed=5)
    args = tuple(t.requires_grad_(True) for t in (x, offset, mask, weight, bias))

    def fn(x, offset, mask, weight, bias):
        return modulated_deform_conv2d(x, offset, mask if with_mask else None, weight, bias, st, pd, dl,
                                       groups, dg, use_torchvision=False)

    assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-6)


def test_no_grad_with_parameters_matches_and_keeps_no_graph():
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[0], seed=6)
    params = [torch.nn.Parameter(t.clone()) for t in (weight, bias)]
    expected = modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, use_torchvision=False)
    with torch.no_grad():
        out = modulated_deform_conv2d(x, offset, mask, *params, st, pd, dl, use_torchvision=False)
    assert out.grad_fn is None
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_non_contiguous_offset_and_mask():
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[0], seed=4)
    off_t = offset.transpose(-1, -2).contiguous().transpose(-1, -2)  # same values, other strides
    mask_t = torch.cat((mask, mask), dim=1)[:, ::2]
    mask_t.copy_(mask)
    assert not off_t.is_contiguous() and not mask_t.is_contiguous()
    torch.testing.assert_close(
        modulated_deform_conv2d(x, off_t, mask_t, weight, bias, st, pd, dl, use_torchvision=False),
        modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, use_torchvision=False),
        rtol=0, atol=0)


@pytest.mark.parametrize("wanted", [("input",), ("offset", "mask"), ("weight",), ("mask", "bias")])
def test_gradients_of_a_subset_of_inputs(wanted):
    names = ("input", "offset", "mask", "weight", "bias")
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[0], seed=2)
    ref_t = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    ours = [t.clone().requires_grad_(name in wanted) for name, t in zip(names, (x, offset, mask, weight, bias))]
    out = modulated_deform_conv2d(*ours, st, pd, dl, groups, dg, use_torchvision=False)
    ref = _reference(*ref_t, st, pd, dl, groups, dg)
    out.sum().backward()
    ref.sum().backward()
    for name, a, b in zip(names, ours, ref_t):
        if name in wanted:
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-9, msg=f"grad {name}")
        else:
            assert a.grad is None


def test_zero_offset_is_masked_regular_conv():
    gen = torch.Generator().manual_seed(0)
    layer = DCNv2Pack(in_channels=4, out_channels=6, kernel_size=3, padding=1, deformable_groups=2,
                      use_torchvision=False)
    with torch.no_grad():
        layer.bias.normal_(generator=gen)  # type: ignore[union-attr]
    x = torch.randn(2, 4, 5, 7, generator=gen)
    # conv_offset starts at zero: offsets 0, masks sigmoid(0) = 0.5
    expected = F.conv2d(x, 0.5 * layer.weight, layer.bias, padding=1)
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-6)
    assert set(layer.state_dict()) == {"weight", "bias", "conv_offset.weight", "conv_offset.bias"}
    assert layer.conv_offset.out_channels == 2 * 3 * 9


def test_module_uses_function():
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[1])
    m = ModulatedDeformConv2d(in_channels=4, out_channels=4, kernel_size=(2, 3), stride=st, padding=pd,
                              dilation=dl, groups=groups, deformable_groups=dg, use_torchvision=False)
    m = m.double()
    with torch.no_grad():
        m.weight.copy_(weight)
        m.bias.copy_(bias)  # type: ignore[union-attr]
    torch.testing.assert_close(m(x, offset, mask),
                               modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl,
                                                       use_torchvision=False))


def test_shape_errors_and_torchvision_flag():
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[0])
    with pytest.raises(ValueError, match="deformable_groups"):
        modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, groups, 4, use_torchvision=False)
    with pytest.raises(ValueError, match="groups"):
        modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, 1, dg, use_torchvision=False)
    with pytest.raises(ValueError, match="mask shape"):
        modulated_deform_conv2d(x, offset, mask[:, :3], weight, bias, st, pd, dl, use_torchvision=False)
    if torchvision_available():
        out = modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, use_torchvision=True)
        assert out.shape == (2, 6, 5, 6)
    else:
        with pytest.raises(ToolError, match="use_torchvision=False"):
            modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, use_torchvision=True)


@pytest.mark.parametrize("case", CASES)
def test_matches_torchvision(case):
    pytest.importorskip("torchvision")
    if not torchvision_available():
        pytest.skip("torchvision is installed but its deform_conv2d does not import with this torch")
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case)
    args = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    tv_args = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    ours = modulated_deform_conv2d(*args, st, pd, dl, use_torchvision=False)
    theirs = modulated_deform_conv2d(*tv_args, st, pd, dl, use_torchvision=True)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-9)
    ours.sum().backward()
    theirs.sum().backward()
    for a, b in zip(args, tv_args):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-8)


def test_macs_equal_regular_conv_count():
    m = ModulatedDeformConv2d(in_channels=8, out_channels=6, kernel_size=3, padding=1, groups=2,
                              deformable_groups=4)
    assert m.macs(10, 12, batch=2) == 2 * 6 * 10 * 12 * 4 * 9


def test_benchmark_reports_both_operators_and_their_ratios(capsys):
    from workbench.cli import main
    from workbench.evaluate.complexity.deform_bench import benchmark_deform_conv, parse_shape

    r = benchmark_deform_conv(channels=4, groups=2, height=5, width=6, repeats=1, warmup=0)
    assert min(r.deform_forward_ms, r.conv_forward_ms, r.deform_train_ms, r.conv_train_ms) > 0
    assert 0 < r.deform_backward_ms < r.deform_train_ms and 0 < r.conv_backward_ms < r.conv_train_ms
    assert r.forward_ratio == r.deform_forward_ms / r.conv_forward_ms
    assert r.train_ratio == r.deform_train_ms / r.conv_train_ms
    assert r.backward_ratio == r.deform_backward_ms / r.conv_backward_ms
    assert r.impl == "current" and not r.others
    assert "4->4 3x3, 2 deformable groups, N=1, 5x6, float32" in r.lines()[0]
    assert parse_shape("2x8x5x6") == (2, 8, 5, 6)
    with pytest.raises(ConfigError, match="NxCxHxW"):
        parse_shape("8x5x6")
    with pytest.raises(ConfigError, match="impl"):
        benchmark_deform_conv(channels=4, groups=2, height=5, width=6, impl="fast")
    assert main(["bench", "deform", "--shape", "1x4x5x6", "--groups", "2", "--repeats", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    impls = ("current", "legacy", "native") if dc_mod.native_available() else ("current", "legacy")
    assert [line.split()[:2] for line in out[1:]] == [
        [what, impl] for what in ("forward", "forward+backward", "backward") for impl in impls]
    assert all("ratio" in line for line in out[1:])


def test_legacy_implementation_computes_the_same_function():
    from workbench.ops.deform_conv_legacy import legacy_deform_conv2d

    case = (2, 4, 6, 5, 6, (3, 3), (1, 1), (1, 1), (1, 1), 1, 2)
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case, seed=7)
    ref_t = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    old_t = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    ref = _reference(*ref_t, st, pd, dl, groups, dg)
    old = legacy_deform_conv2d(*old_t, padding=1)
    torch.testing.assert_close(old, ref, rtol=0, atol=1e-10)
    ref.sum().backward()
    old.sum().backward()
    for a, b in zip(old_t, ref_t):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-9)


def test_windows_smaller_than_the_frame_match_reference(monkeypatch):
    """Small offsets and one output row per chunk: each chunk samples a window of a few input rows; values
    and every gradient (the y-offset one is rescaled by the window's height) equal the reference."""
    _set_budget(monkeypatch, 1)
    case = (1, 4, 4, 11, 6, (3, 3), (1, 1), (1, 1), (1, 1), 1, 2)
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case, seed=8)
    offset = 0.1 * offset
    offset[0, 2 * 9 + 4, 6, 3] = -4.6  # one sample of row 6 reaches row 1.4: that chunk's window grows
    geom = dc_mod._Geometry(11, 6, 11, 6, (3, 3), st, pd, dl, groups, dg)
    chunks = dc_mod._chunks(offset, geom, bytes_per_row=1, budget=1)
    assert len(chunks) == 11 and max(c.hw for c in chunks if c.r0 != 6) <= 5
    assert chunks[6].lo <= 1 and chunks[6].lo + chunks[6].hw >= 8
    ours = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    ref_t = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    out = modulated_deform_conv2d(*ours, st, pd, dl, groups, dg, use_torchvision=False)
    ref = _reference(*ref_t, st, pd, dl, groups, dg)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    probe = torch.randn(ref.shape, generator=torch.Generator().manual_seed(9), dtype=ref.dtype)
    (out * probe).sum().backward()
    (ref * probe).sum().backward()
    for name, a, b in zip(("input", "offset", "mask", "weight", "bias"), ours, ref_t):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-9, msg=f"grad {name}")


def test_window_is_the_frame_on_meta_and_for_non_finite_offsets():
    geom = dc_mod._Geometry(8, 5, 8, 5, (3, 3), (1, 1), (1, 1), (1, 1), 1, 1)
    offset = torch.zeros(1, 18, 8, 5)
    chunks = dc_mod._chunks(offset, geom, bytes_per_row=1, budget=1)
    assert [(c.lo, c.hw) for c in chunks] == [(0, 3)] + [(r - 1, 4) for r in range(1, 6)] + [(5, 3), (6, 2)]
    offset[0, 0, 3, 2] = float("nan")
    assert [c.hw for c in dc_mod._chunks(offset, geom, bytes_per_row=1, budget=1)][3] == 8
    assert all((c.lo, c.hw) == (0, 8) for c in dc_mod._chunks(offset.to("meta"), geom, bytes_per_row=1, budget=1))


def test_meta_device_counts_in_one_chunk():
    """Shape-only counting allocates nothing, so it takes the whole output at once: the per-chunk calls made
    BasicVSR++'s 960x540 count take 42 s instead of 3 s on one thread (the old code made 8 chunks here)."""
    geom = dc_mod._Geometry(8, 5, 8, 5, (3, 3), (1, 1), (1, 1), (1, 1), 1, 1)
    chunks = dc_mod._chunks(torch.zeros(1, 18, 8, 5, device="meta"), geom, bytes_per_row=1, budget=1)
    assert [(c.r0, c.r1, c.lo, c.hw) for c in chunks] == [(0, 8, 0, 8)]
