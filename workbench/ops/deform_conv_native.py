"""Native CPU path of the modulated deformable convolution: a C++ kernel compiled on first use.

The source (``workbench/ops/csrc/deform_conv.cpp``, written for this workbench from the DCNv2 formula)
reads the input as a channels-last copy per deformable group with a zero border, ``(N, dg, H+3, W+3, C/dg)``
(:func:`_channels_last`), so that a sample's bilinear weights are computed once per image, group, tap and
output pixel and applied to the group's channels as short vectors, and a corner outside the frame reads the
border instead of being tested. Per chunk of output rows (columns under :data:`_COLUMN_BUDGET_BYTES`):

- ``deform_forward``: the masked column matrix ``(N, C_in·kh·kw, rows·W_out)`` in the (channel, tap) order
  of ``weight.view(C_out, -1)`` (``deform_im2col``), then one GEMM per group into the output rows;
- ``deform_backward``: the column gradient (GEMM), then one pass (``deform_col2im_grad``) that scatters
  the four corners into the input gradient, reduces the offset gradient (the bilinear sample's derivative
  w.r.t. y and x, summed over the group's channels, times the mask) and the mask gradient (sum over the
  group's channels of g_col × the unmasked sample) and rewrites the chunk's columns, then the weight
  gradient (GEMM).

Each of the two runs as one parallel region over the chunks (``at::parallel_for``; kernel and a
single-threaded MKL GEMM per thread): threads meet once per call, which matters on a CPU shared with other
jobs. In the backward, chunks write disjoint rows of the offset/mask gradients; the input and weight
gradients are accumulated per thread and summed, so no atomics are needed. float32 with 4k channels per
group takes SSE2 paths (4 pixels at a time, 4×4 transposes); other cases a scalar loop; the sample rows are
also compiled for AVX2 and chosen at run time. Layout, sampling rule and the function computed are those
of :mod:`workbench.ops.deform_conv`.

Build: ``torch.utils.cpp_extension.load`` with ``-O3 -fno-trapping-math -fopenmp`` (no ``-march``: the
binary runs on any x86-64 CPU) into ``<cache>/torch_extensions/workbench_deform_conv_<key>`` (``<cache>``
is :func:`workbench.paths.cache_root`, ``$WORKBENCH_CACHE``), the key a hash of the source, the flags, the
torch and the Python version, so a changed source or torch builds anew and an unchanged one imports the
built module directly. The first build took 43 s on this project's shared 2-core CPU. While it builds,
one line goes to stderr; if it cannot build (no compiler, no ninja, a compile error), one line says so,
once per process, and :func:`extension` returns ``None`` (the caller uses the plain path).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

SOURCE = Path(__file__).with_name("csrc") / "deform_conv.cpp"
_CFLAGS = ("-O3", "-fno-trapping-math", "-fopenmp")
_LDFLAGS = ("-fopenmp",)
#: dtypes the kernel is compiled for
DTYPES = (torch.float32, torch.float64)
#: column buffer of one chunk of output rows (bytes); the backward holds two (columns and their gradient)
_COLUMN_BUDGET_BYTES = 8 * 2**20


def build_key() -> str:
    """Hash of what the built module depends on: source, flags, torch and Python versions."""
    h = hashlib.sha256(SOURCE.read_bytes())
    h.update(repr((_CFLAGS, _LDFLAGS, torch.__version__, sys.version_info[:2], sys.platform)).encode())
    return h.hexdigest()[:16]


def build_directory() -> Path:
    from workbench.paths import cache_root  # lazy: ops sit below workbench.paths' users; imported on first build

    return cache_root() / "torch_extensions" / f"workbench_deform_conv_{build_key()}"


def _import(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build() -> ModuleType:
    """Compile (or load the already built) extension; raises on failure.

    A module already built under this key is imported directly (about 1.3 s faster than
    ``cpp_extension.load``, which imports its build machinery and asks ninja whether it is up to date).
    """
    name = f"workbench_deform_conv_{build_key()}"
    build = build_directory()
    built = build / f"{name}.so"
    if built.is_file():
        with contextlib.suppress(ImportError, OSError):
            return _import(name, built)
    from torch.utils import cpp_extension  # lazy: imports the build machinery (about 1 s), only to compile

    build.mkdir(parents=True, exist_ok=True)
    print(f"workbench: compiling the native deformable convolution into {build} (once)", file=sys.stderr,
          flush=True)
    module = cpp_extension.load(name=name, sources=[str(SOURCE)], build_directory=str(build),
                                extra_cflags=list(_CFLAGS), extra_ldflags=list(_LDFLAGS), verbose=False)
    assert isinstance(module, ModuleType)
    return module


@functools.cache
def extension() -> ModuleType | None:
    """The compiled kernel module, or ``None`` (said once on stderr) when it cannot be built."""
    try:
        return _build()
    except Exception as e:  # compiler/ninja missing, compile or link error, unwritable cache
        first = (str(e).strip().splitlines() or [""])[0][:200]
        print(f"workbench: the native deformable convolution could not be compiled ({type(e).__name__}: {first}); "
              "using the plain PyTorch path", file=sys.stderr, flush=True)
        return None


def supports(*tensors: Tensor | None) -> bool:
    """Whether the kernel handles these tensors: all on the CPU (not meta), one dtype of :data:`DTYPES`."""
    ts = [t for t in tensors if t is not None]
    dtype = ts[0].dtype
    return dtype in DTYPES and all(t.device.type == "cpu" and t.dtype == dtype for t in ts)


def _row_ranges(rows: int, bytes_per_row: int, budget: int) -> list[tuple[int, int]]:
    step = max(1, min(rows, budget // max(1, bytes_per_row)))
    return [(r, min(rows, r + step)) for r in range(0, rows, step)]


def _geometry_args(geom: Any) -> tuple[int, ...]:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geom.kernel, geom.stride, geom.padding, geom.dilation
    return (kh, kw, sh, sw, ph, pw, dh, dw)


def _channels_last(x: Tensor, dg: int) -> Tensor:
    """``(N, C, H, W)`` → ``(N, dg, H + 3, W + 3, C/dg)``, the frame at rows/columns ``1 … H`` / ``1 … W`` of a
    zero border (one pixel before, two after): the layout the kernels read."""
    n, c, h, w = x.shape
    out = x.new_zeros((n, dg, h + 3, w + 3, c // dg))
    out[:, :, 1:h + 1, 1:w + 1].copy_(x.view(n, dg, c // dg, h, w).permute(0, 1, 3, 4, 2))
    return out


def fits(h: int, w: int) -> bool:
    """Whether an ``h × w`` input fits the kernel's float pixel indices (``(H+3)·(W+3) < 2^24``)."""
    return (h + 3) * (w + 3) < 2**24


class _NativeDeformConv(torch.autograd.Function):
    """DCNv2 with the C++ im2col / col2im kernels and PyTorch GEMMs, per chunk of output rows.

    Same arguments as the plain ``_DeformConv`` (``x, offset, mask, weight, bias, geom, track``; ``offset``
    and ``mask`` contiguous). Forward saves only its inputs (the input as the kernels' padded channels-last
    copy). Per chunk, the backward computes the column gradient (GEMM), then one kernel pass gives the
    input, offset and mask gradients and recomputes the chunk's columns for the weight gradient (GEMM).
    Keeping all columns from the forward instead was slower on this CPU (1×64×136×240, 16 groups: forward
    +30 ms writing 75 MB to fresh memory, backward −8 ms).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, offset: Tensor, mask: Tensor | None, weight: Tensor, bias: Tensor | None,
        geom: Any, track: bool,
    ) -> Tensor:
        ext = extension()
        assert ext is not None
        n, cin = x.shape[:2]
        cout, groups, taps, wo = weight.shape[0], geom.groups, geom.taps, geom.wo
        # outside inference mode: the kernel's worker threads (at::parallel_for) do not inherit it, and an
        # output made under it would be an inference tensor they may not write (torch.inference_mode callers:
        # the runtime benchmark)
        with torch.inference_mode(False):
            x_cl = _channels_last(x, geom.dg)
            # one C++ call: per chunk of output rows (columns under the budget) the kernel's columns and a GEMM
            wg = weight.reshape(groups, cout // groups, -1)
            out = x.new_empty((n, cout, geom.ho * wo))
            ranges = _row_ranges(geom.ho, n * cin * taps * wo * x.element_size(), _COLUMN_BUDGET_BYTES)
            ext.deform_forward(x_cl, offset, mask, wg.contiguous(), out, ranges[0][1] - ranges[0][0],
                               *_geometry_args(geom))
            if bias is not None:
                out += bias.view(1, -1, 1)
        ctx.geom, ctx.has_bias = geom, bias is not None
        ctx.save_for_backward(x_cl, offset, mask, weight)
        return out.view(n, cout, geom.ho, wo)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        ext = extension()
        assert ext is not None
        x_cl, offset, mask, weight = ctx.saved_tensors
        geom = ctx.geom
        need = ctx.needs_input_grad
        n, cin = x_cl.shape[0], x_cl.shape[1] * x_cl.shape[4]
        cout, groups, taps, wo = weight.shape[0], geom.groups, geom.taps, geom.wo
        wg = weight.reshape(groups, cout // groups, -1)
        go = grad_out.contiguous()
        g_x = torch.zeros_like(x_cl) if need[0] else None
        g_off = torch.empty_like(offset) if need[1] else None
        g_mask = torch.empty_like(mask) if need[2] and mask is not None else None
        g_w = torch.zeros_like(wg) if need[3] else None
        # two buffers per chunk (columns and their gradient) under one budget
        ranges = _row_ranges(geom.ho, 2 * n * cin * taps * wo * x_cl.element_size(), _COLUMN_BUDGET_BYTES)
        ext.deform_backward(x_cl, offset, mask, wg.contiguous(), go.view(n, cout, -1), g_x, g_off, g_mask, g_w,
                            ranges[0][1] - ranges[0][0], *_geometry_args(geom))
        g_b = grad_out.sum((0, 2, 3)) if ctx.has_bias and need[4] else None
        if g_x is not None:  # (N, dg, H + 3, W + 3, C/dg) → (N, C, H, W), the border dropped
            g_x = g_x[:, :, 1:geom.h + 1, 1:geom.w + 1].permute(0, 1, 4, 2, 3).reshape(n, cin, geom.h, geom.w)
        return (g_x, g_off, g_mask, g_w.view(weight.shape) if g_w is not None else None, g_b, None, None)
