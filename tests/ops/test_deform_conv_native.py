"""The native CPU kernel of the deformable convolution against the float64 per-pixel reference, its
gradients, the implementation switch and the fallback to the plain path when it cannot be compiled."""

from __future__ import annotations

import pytest
import torch
from test_deform_conv import _inputs, _reference  # tests/ops is on sys.path (pytest rootdir insertion)

from workbench.ops import deform_conv as dc_mod
from workbench.ops import deform_conv_native as native
from workbench.ops import modulated_deform_conv2d


@pytest.fixture(scope="module", autouse=True)
def _built() -> None:
    if native.extension() is None:
        pytest.skip("the native deformable convolution cannot be compiled here (see the message on stderr)")


# (N, Cin, Cout, H, W, kernel, stride, padding, dilation, groups, dg)
CASES = [
    (2, 4, 6, 5, 6, (3, 3), (1, 1), (1, 1), (1, 1), 2, 2),  # groups and deformable groups
    (1, 4, 4, 7, 6, (2, 3), (2, 1), (0, 2), (2, 1), 2, 2),  # stride, padding, dilation, non-square kernel
    (2, 6, 4, 6, 7, (3, 3), (1, 2), (1, 1), (1, 1), 1, 2),  # 3 channels per group: the generic kernel
    (1, 8, 5, 5, 5, (3, 3), (1, 1), (2, 2), (2, 2), 1, 1),  # one deformable group of 8 channels
    (1, 4, 4, 6, 5, (1, 1), (1, 1), (0, 0), (1, 1), 4, 4),  # 1x1, depthwise, 1 channel per group
]


def _special_offsets(offset: torch.Tensor) -> torch.Tensor:
    """Offsets that land on exact integer positions, on the last row/column, on -1 and beyond the frame."""
    offset = offset.clone()
    offset[:, 0::2, 0, :] = offset[:, 0::2, 0, :].round()  # integer y, random x
    offset[:, :, 1, :] = offset[:, :, 1, :].round()  # both integer
    offset[:, :, -1, 0] = 40.0  # far outside
    offset[:, 1, 0, 0] = -30.0
    if offset.shape[-1] > 2:
        offset[:, :, 0, 2] = -1.0 - torch.arange(offset.shape[1], dtype=offset.dtype).remainder(3)
    return offset


def _grads(fn, tensors, probe):
    leaves = [t.clone().requires_grad_(True) if t is not None else None for t in tensors]
    out = fn(*leaves)
    (out * probe).sum().backward()
    return out.detach(), [t.grad if t is not None else None for t in leaves]


@pytest.mark.parametrize("with_mask", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_native_matches_reference_forward_and_every_gradient(case, with_mask):
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case, seed=11)
    offset = _special_offsets(offset)
    tensors = (x, offset, mask if with_mask else None, weight, bias)
    n, _, ho, wo = offset.shape
    probe = torch.randn(n, weight.shape[0], ho, wo, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    ref, ref_g = _grads(lambda *t: _reference(*t, st, pd, dl, groups, dg), tensors, probe)
    out, got = _grads(lambda *t: modulated_deform_conv2d(*t, st, pd, dl, groups, dg, impl="native"), tensors, probe)
    assert (ref.abs() > 0).any()
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    for name, a, b in zip(("input", "offset", "mask", "weight", "bias"), got, ref_g):
        if b is None:
            assert a is None
            continue
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9, msg=f"grad {name}")
    # float32 agrees with the float64 reference
    out32 = modulated_deform_conv2d(*(t.float() if t is not None else None for t in tensors), st, pd, dl,
                                    impl="native")
    torch.testing.assert_close(out32.double(), ref, rtol=0, atol=2e-5)


def test_native_uses_its_function_and_chunks_rows(monkeypatch):
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[0], seed=12)
    calls = []
    apply = native._NativeDeformConv.apply
    monkeypatch.setattr(native._NativeDeformConv, "apply", lambda *a: calls.append(1) or apply(*a))
    full = modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, impl="native")
    assert calls
    per_row = x.shape[0] * x.shape[1] * 9 * offset.shape[-1] * x.element_size()
    ref_t = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
    ref = _reference(*ref_t, st, pd, dl, groups, dg)
    ref.sum().backward()
    for budget in (1, 2 * per_row):  # one output row per chunk; chunks of 2 rows (1 in the backward)
        monkeypatch.setattr(native, "_COLUMN_BUDGET_BYTES", budget)
        ours = [t.clone().requires_grad_(True) for t in (x, offset, mask, weight, bias)]
        out = modulated_deform_conv2d(*ours, st, pd, dl, impl="native")
        torch.testing.assert_close(out, full, rtol=0, atol=1e-12)
        out.sum().backward()
        for a, b in zip(ours, ref_t):
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-9)


@pytest.mark.parametrize("threads", [2, 3])
def test_native_several_threads_and_chunks(monkeypatch, threads):
    """One output row per chunk, chunks spread over several threads (the forward's parallel region runs
    GEMMs on the pool's threads, with parameters that require grad)."""
    monkeypatch.setattr(native, "_COLUMN_BUDGET_BYTES", 1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[0], seed=17)
        tensors = (x, offset, mask, weight, bias)
        probe = torch.randn(2, 6, 5, 6, generator=torch.Generator().manual_seed(4), dtype=x.dtype)
        ref, ref_g = _grads(lambda *t: _reference(*t, st, pd, dl, groups, dg), tensors, probe)
        out, got = _grads(lambda *t: modulated_deform_conv2d(*t, st, pd, dl, groups, dg, impl="native"), tensors,
                          probe)
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
        for name, a, b in zip(("input", "offset", "mask", "weight", "bias"), got, ref_g):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-9, msg=f"grad {name}")
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_native_channel_blocks_when_groups_are_fewer_than_threads(threads):
    """With N·dg below the thread count the input gradient is split over channel blocks of a group (and
    their partial offset/mask gradients summed): the same gradients at any thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        case = (1, 6, 4, 6, 7, (3, 3), (1, 1), (1, 1), (1, 1), 1, 1)
        x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case, seed=13)
        tensors = (x, offset, mask, weight, bias)
        probe = torch.randn(1, 4, 6, 7, generator=torch.Generator().manual_seed(2), dtype=x.dtype)
        _, ref_g = _grads(lambda *t: _reference(*t, st, pd, dl, groups, dg), tensors, probe)
        _, got = _grads(lambda *t: modulated_deform_conv2d(*t, st, pd, dl, impl="native"), tensors, probe)
        for name, a, b in zip(("input", "offset", "mask", "weight", "bias"), got, ref_g):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-9, msg=f"grad {name}")
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("with_mask", [True, False])
def test_native_gradcheck_float64(with_mask):
    case = (1, 4, 2, 4, 5, (3, 3), (1, 1), (1, 1), (1, 1), 2, 2)
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case, seed=5)
    args = tuple(t.requires_grad_(True) for t in (x, offset, mask, weight, bias))

    def fn(x, offset, mask, weight, bias):
        return modulated_deform_conv2d(x, offset, mask if with_mask else None, weight, bias, st, pd, dl, groups,
                                       dg, impl="native")

    assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-6)


def test_native_equals_plain_on_the_benchmark_distribution():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(1, 16, 12, 20, generator=gen)
    offset = 2 * torch.randn(1, 2 * 4 * 9, 12, 20, generator=gen)
    mask = torch.rand(1, 4 * 9, 12, 20, generator=gen)
    weight = torch.randn(16, 16, 3, 3, generator=gen) / 12
    plain = modulated_deform_conv2d(x, offset, mask, weight, None, padding=1, impl="plain")
    ours = modulated_deform_conv2d(x, offset, mask, weight, None, padding=1, impl="native")
    torch.testing.assert_close(ours, plain, rtol=0, atol=1e-5)


def test_auto_and_env_choose_native_on_cpu_and_plain_elsewhere(monkeypatch):
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[0], seed=14)
    used = []
    for cls in (native._NativeDeformConv, dc_mod._DeformConv):
        apply = cls.apply
        monkeypatch.setattr(cls, "apply", lambda *a, _c=cls, _f=apply: used.append(_c.__name__) or _f(*a))
    monkeypatch.delenv(dc_mod.IMPL_ENV, raising=False)
    modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl)  # auto (no torchvision here)
    if not dc_mod.torchvision_available():
        assert used[-1] == "_NativeDeformConv"
    monkeypatch.setenv(dc_mod.IMPL_ENV, "plain")
    modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl)
    assert used[-1] == "_DeformConv"
    monkeypatch.setenv(dc_mod.IMPL_ENV, "native")
    modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl)
    assert used[-1] == "_NativeDeformConv"
    modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, use_torchvision=False)  # argument wins
    assert used[-1] == "_DeformConv"
    with dc_mod.plain_implementation("legacy"):  # forces the plain path over the environment
        out = modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl)
    assert used[-1] == "_DeformConv" and out.shape == (2, 6, 5, 6)  # the legacy Function is no _DeformConv
    # meta tensors (the FLOP counter) and other dtypes take the plain path even when native is asked for
    meta = modulated_deform_conv2d(*(t.to("meta") for t in (x, offset, mask, weight, bias)), st, pd, dl,
                                   impl="native")
    assert meta.device.type == "meta" and used[-1] == "_DeformConv"
    monkeypatch.setenv(dc_mod.IMPL_ENV, "fast")
    with pytest.raises(ValueError, match="WORKBENCH_DEFORM"):
        modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl)
    with pytest.raises(ValueError, match="contradicts"):
        modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, use_torchvision=True, impl="native")


def test_native_under_cpu_autocast_runs_in_fp32():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 8, 6, 7, generator=gen)
    offset = 2 * torch.randn(1, 2 * 2 * 9, 6, 7, generator=gen)
    mask = torch.rand(1, 2 * 9, 6, 7, generator=gen)
    weight = torch.randn(8, 8, 3, 3, generator=gen) / 8
    ref = modulated_deform_conv2d(x.bfloat16().float(), offset, mask, weight, None, padding=1, impl="native")
    xin = x.bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = modulated_deform_conv2d(xin, offset, mask, weight, None, padding=1, impl="native")
    assert out.dtype == torch.bfloat16
    assert torch.equal(out.float(), ref.bfloat16().float())
    out.float().sum().backward()
    assert xin.grad is not None and xin.grad.dtype == torch.bfloat16


def test_failed_build_says_so_once_and_uses_the_plain_path(monkeypatch, capsys):
    def broken() -> None:
        raise RuntimeError("Error building extension 'workbench_deform_conv': g++: not found\nmore lines")

    monkeypatch.setattr(native, "_build", broken)
    native.extension.cache_clear()
    try:
        x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(CASES[0], seed=15)
        used = []
        apply = dc_mod._DeformConv.apply
        monkeypatch.setattr(dc_mod._DeformConv, "apply", lambda *a: used.append(1) or apply(*a))
        out = modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl, impl="native")
        modulated_deform_conv2d(x, offset, mask, weight, bias, st, pd, dl)
        assert len(used) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and "could not be compiled" in err[0] and "g++: not found" in err[0]
        assert "plain PyTorch path" in err[0]
        ref = _reference(x, offset, mask, weight, bias, st, pd, dl, groups, dg)
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    finally:
        native.extension.cache_clear()


def test_build_directory_is_in_the_cache_and_keyed(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    d = native.build_directory()
    assert d.parent == tmp_path.resolve() / "torch_extensions"
    assert d.name == f"workbench_deform_conv_{native.build_key()}" and len(native.build_key()) == 16


@pytest.mark.parametrize("case", [
    (1, 8, 8, 6, 11, (3, 3), (1, 1), (1, 1), (1, 1), 1, 2),  # 4 channels per group, width 11: 4-pixel blocks + tail
    (2, 16, 8, 5, 9, (3, 3), (1, 2), (1, 1), (1, 1), 2, 2),  # 8 channels per group (two 4-channel slices)
])
def test_native_float32_vector_path_matches_reference(case):
    """float32 with 4k channels per group runs the SSE path (4 pixels at a time): forward and gradients
    agree with the float64 reference to float32 rounding."""
    x, offset, mask, weight, bias, st, pd, dl, groups, dg = _inputs(case, seed=16)
    offset = _special_offsets(offset)
    tensors = (x, offset, mask, weight, bias)
    n, _, ho, wo = offset.shape
    probe = torch.randn(n, weight.shape[0], ho, wo, generator=torch.Generator().manual_seed(3), dtype=x.dtype)
    ref, ref_g = _grads(lambda *t: _reference(*t, st, pd, dl, groups, dg), tensors, probe)
    out, got = _grads(lambda *t: modulated_deform_conv2d(*t, st, pd, dl, groups, dg, impl="native"),
                      tuple(t.float() for t in tensors), probe.float())
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-4)
    for name, a, b in zip(("input", "offset", "mask", "weight", "bias"), got, ref_g):
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4, msg=f"grad {name}")


def test_per_chunk_kernel_splits_channels_over_threads_alike():
    """``deform_col2im_grad`` (the per-chunk kernel) splits a group's channels over the threads when N·dg is
    below their count (partial offset/mask gradients summed): the same gradients as on one thread."""
    ext = native.extension()
    gen = torch.Generator().manual_seed(18)
    x = torch.randn(1, 6, 5, 7, generator=gen, dtype=torch.float64)
    offset = 2 * torch.randn(1, 18, 5, 7, generator=gen, dtype=torch.float64)
    mask = torch.rand(1, 9, 5, 7, generator=gen, dtype=torch.float64)
    g_col = torch.randn(1, 54, 2 * 7, generator=gen, dtype=torch.float64)
    x_cl = native._channels_last(x, 1)
    results = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            col, g_x = torch.empty_like(g_col), torch.zeros_like(x_cl)
            g_off, g_mask = torch.zeros_like(offset), torch.zeros_like(mask)
            ext.deform_col2im_grad(x_cl, offset, mask, g_col, col, g_x, g_off, g_mask, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1)
            results.append((col, g_x, g_off, g_mask))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert results[0][2][:, :, 1:3].abs().sum() > 0 and results[0][2][:, :, 3:].abs().sum() == 0


@pytest.mark.parametrize("threads", [1, 2])
def test_native_runs_under_inference_mode(threads, monkeypatch):
    """The runtime benchmark times models under torch.inference_mode; the kernel's worker threads do not
    inherit it, so the native path must not hand them an inference tensor to write (one row per chunk: the
    chunks are spread over the threads)."""
    monkeypatch.setattr(native, "_COLUMN_BUDGET_BYTES", 1)
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(1, 16, 24, 20, generator=gen)
    offset = 2 * torch.randn(1, 2 * 4 * 9, 24, 20, generator=gen)
    mask = torch.rand(1, 4 * 9, 24, 20, generator=gen)
    weight, bias = torch.randn(16, 16, 3, 3, generator=gen) / 12, torch.randn(16, generator=gen)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            expected = modulated_deform_conv2d(x, offset, mask, weight, bias, padding=1, impl="native")
        with torch.inference_mode():
            args = [t.clone() for t in (x, offset, mask, weight, bias)]  # inference tensors, as in the benchmark
            got = modulated_deform_conv2d(*args, padding=1, impl="native")
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
