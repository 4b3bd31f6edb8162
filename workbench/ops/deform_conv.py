"""Modulated deformable convolution (DCNv2): plain PyTorch, a native CPU kernel, or torchvision's operator.

Implements the operator of Zhu et al., "Deformable ConvNets v2: More Deformable, Better Results"
(CVPR 2019), eq. (3): ``y(p) = Σ_k w_k · x(p + p_k + Δp_k) · Δm_k``, with the tensor layout and sampling
rule of ``torchvision.ops.deform_conv2d`` / mmcv ``modulated_deform_conv2d``:

- ``input``  ``(N, C_in, H, W)``;
- ``offset`` ``(N, 2·dg·kh·kw, H_out, W_out)`` in pixels; for deformable group ``g`` and kernel tap
  ``k = i·kw + j`` channel ``2·(g·kh·kw + k)`` is the vertical (y) and the next one the horizontal (x)
  displacement;
- ``mask``   ``(N, dg·kh·kw, H_out, W_out)``, channel ``g·kh·kw + k`` (``None`` = DCNv1, all ones);
- ``weight`` ``(C_out, C_in / groups, kh, kw)``; input channel ``c`` belongs to deformable group
  ``c // (C_in / dg)``.

Sampling is bilinear with zeros outside the image: each of the four neighbouring pixels contributes only
if it lies inside the frame (the corner rule of the torchvision/mmcv kernels), so a sample at
``y <= -1`` or ``y >= H`` (same for x) is exactly 0.

Implementations (all compute this function; :func:`modulated_deform_conv2d` picks one): torchvision's
compiled operator when it imports; else, for CPU float32/float64 tensors, the native kernel of
:mod:`workbench.ops.deform_conv_native` (C++ written for this operator, compiled on first use into the
workbench cache; if it cannot be compiled, one stderr line says so and the plain path runs); else the
plain path below (other devices and dtypes, the meta device of the FLOP counter). ``impl=`` or
``$WORKBENCH_DEFORM`` (``auto``, ``plain``, ``native``, ``torchvision``) force one; ``use_torchvision=``
keeps its meaning (``True`` torchvision, ``False`` plain).

The plain implementation (``_DeformConv``, an ``autograd.Function``) works on chunks of output rows whose
column buffer stays under a budget: 8 MiB when no backward follows, 32 MiB when one does (the best of
4–256 MiB measured on this CPU under load from other jobs, where the forward at 136×240 ran 4.1× the
regular convolution with 8 MiB and 6.5× with 32 MiB, and forward+backward 5.0× with 32 MiB and 5.8× with
8 MiB; at low load the budget matters little, and a small frame loses up to 10 % to the extra chunks; the
replaced implementation used one 256 MiB chunk). Per chunk,
the rows ``[⌊min y⌋, ⌊max y⌋ + 1]`` that its samples can reach (from the chunk's offsets, clipped to the
frame) form its *window*, and one ``grid_sample(align_corners=False)`` call samples every kernel tap of
every deformable group in it: the window is viewed as ``(N·dg, C_in/dg, rows, W)`` and the grid, built
from the offsets by two scaled adds on coordinates normalised to the window so that they map back to the
exact pixel position, as ``(N·dg, kh·kw·rows, W_out, 2)``. The samples then *are* the column matrix
``(N, C_in·kh·kw, rows·W_out)`` in the (channel, tap) order of ``weight.view(C_out, -1)``; the mask
multiplies it and one (grouped) GEMM writes the chunk's output. The backward is written out: two GEMMs
(weight and column gradients), the mask gradient ``Σ_c g_col·s`` from the saved unmasked samples, and
``grid_sampler_2d_backward`` for the window's input gradient and the grid (→ offset) gradient in one
call, so a chunk's input gradient is the size of its window, not of the frame. Gradients are first-order
(``once_differentiable``); the graph can be differentiated more than once (``retain_graph``). On the meta
device (the FLOP counter) or with non-finite offsets a window is the whole frame. When torchvision's
compiled operator is importable it is used instead (``use_torchvision=None``, auto); both compute the same
function on every device. :mod:`workbench.ops.deform_conv_legacy` keeps the implementation this one
replaced (whole-frame sampling, one 256 MiB chunk), for ``workbench bench deform --impl legacy``.

Speed (``OMP_NUM_THREADS=1 workbench bench deform --impl all``: 64→64 channels, 3×3, 16 deformable groups,
N=1, 136×240, float32; time ÷ ``F.conv2d`` of the same shape, medians of 7 interleaved rounds, on this
project's 2-core CPU shared with two training jobs): forward / forward+backward / backward 4.20× / 5.89× /
6.46× for the plain path, 4.25× / 6.69× / 7.18× for the legacy one and **2.52× / 2.66× / 2.87× for the
native kernel** (41.6 / 148.1 / 108.4 ms against 16.5 / 55.6 / 37.8 ms), so the 3× goal of issue 13 holds
with it; at 2 threads 1.49× / 1.62× / 1.62× native (the regular convolution itself ran 2.6× slower than at
one thread there: the cores were oversubscribed). The plain path cannot reach 3× with PyTorch's own
kernels: ``grid_sample`` alone takes 2–2.5× the regular convolution's time (its bilinear gathers, four per
channel and tap, dominate; with 16 deformable groups of 4 channels nothing amortises them) and the GEMM over
the columns about 1×; in the backward, ``grid_sampler_2d_backward``'s scatter-add into the input gradient
takes 3–4× (docs/complexity.md §7 lists the alternatives measured, and all figures).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from workbench.errors import ToolError
from workbench.ops import deform_conv_native as _native
from workbench.ops.autocast import autocast_active, fp32_region
from workbench.ops.deform_conv_legacy import LegacyDeformConv

IntPair = int | tuple[int, int]

#: upper bound of the sampled-column buffer of one chunk of output rows (bytes), when a backward will
#: follow (the chunk's samples, columns and grid are kept for it) and when none will (inference)
_COLUMN_BUDGET_BYTES = 32 * 2**20
_INFERENCE_BUDGET_BYTES = 8 * 2**20


def _pair(v: IntPair) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


@functools.cache
def _torchvision_op() -> Callable[..., Tensor] | None:
    try:
        import torchvision.ops  # type: ignore[import-not-found,import-untyped]
    except Exception:  # absent, or built for another torch (import raises RuntimeError/OSError then)
        return None
    op = getattr(torchvision.ops, "deform_conv2d", None)
    return op if callable(op) else None


def torchvision_available() -> bool:
    """Whether ``torchvision.ops.deform_conv2d`` can be used as the fast path."""
    return _torchvision_op() is not None


def native_available() -> bool:
    """Whether the native CPU kernel (:mod:`.deform_conv_native`) is built or builds now (first call)."""
    return _native.extension() is not None


#: what ``impl`` / ``$WORKBENCH_DEFORM`` may name
IMPLEMENTATIONS = ("auto", "plain", "native", "torchvision")
#: environment variable choosing the implementation when no argument does
IMPL_ENV = "WORKBENCH_DEFORM"
#: the implementation :func:`plain_implementation` forces inside its block (``None``: none forced)
_FORCED: list[str | None] = [None]


def _requested(impl: str | None, use_torchvision: bool | None) -> str:
    """The implementation asked for: ``impl``, else ``use_torchvision`` (True → torchvision, False → plain),
    else the one :func:`plain_implementation` forces, else ``$WORKBENCH_DEFORM``, else ``auto``."""
    if impl is not None:
        if use_torchvision is not None and (impl == "torchvision") != use_torchvision:
            raise ValueError(f"impl={impl!r} contradicts use_torchvision={use_torchvision}")
        chosen, where = impl, "impl"
    elif use_torchvision is not None:
        chosen, where = ("torchvision" if use_torchvision else "plain"), "use_torchvision"
    elif _FORCED[0] is not None:
        chosen, where = _FORCED[0], "plain_implementation"
    else:
        chosen, where = (os.environ.get(IMPL_ENV) or "auto").strip().lower(), f"${IMPL_ENV}"
    if chosen not in IMPLEMENTATIONS:
        raise ValueError(f"deformable convolution implementation {chosen!r} (from {where}): expected one of "
                         f"{', '.join(IMPLEMENTATIONS)}")
    return chosen


def _native_handles(*tensors: Tensor | None) -> bool:
    """Whether the native kernel takes these tensors (CPU, float32/float64 — or anything under CPU autocast,
    which runs the operator in float32 —, an input of fewer than 2^24 pixels) and builds."""
    ts = [t for t in tensors if t is not None]
    if not all(t.device.type == "cpu" for t in ts):
        return False
    if not (autocast_active("cpu") or _native.supports(*ts)):
        return False
    if not _native.fits(int(ts[0].shape[-2]), int(ts[0].shape[-1])):
        return False
    return native_available()


def modulated_deform_conv2d(
    input: Tensor,
    offset: Tensor,
    mask: Tensor | None,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int | None = None,
    deformable_groups: int | None = None,
    *,
    use_torchvision: bool | None = None,
    impl: str | None = None,
) -> Tensor:
    """Modulated deformable 2-D convolution; returns ``(N, C_out, H_out, W_out)``.

    Argument order follows mmcv's ``modulated_deform_conv2d`` (``input, offset, mask, weight, bias,
    stride, padding, dilation, groups, deformable_groups``). ``groups`` and ``deformable_groups`` are
    inferred from ``weight`` and ``offset`` when ``None`` and checked when given. Differentiable w.r.t.
    input, offset, mask, weight and bias.

    Implementation (all compute the same function): ``impl`` names one of :data:`IMPLEMENTATIONS`; without
    it ``use_torchvision`` decides (``True`` requires torchvision's operator, ``False`` forces the plain
    PyTorch path), then :func:`plain_implementation`'s block, then ``$WORKBENCH_DEFORM``, then ``"auto"``:
    torchvision's operator when it imports, else the native CPU kernel (:mod:`.deform_conv_native`) for
    CPU float32/float64 tensors when it builds, else the plain path. ``"native"`` uses the kernel where it
    applies and the plain path elsewhere (another device or dtype, the meta device, no compiler).
    """
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    n, cin, h, w = input.shape
    cout, cpg, kh, kw = weight.shape
    taps = kh * kw
    if cin % cpg != 0:
        raise ValueError(f"input has {cin} channels, not a multiple of weight's {cpg} channels per group")
    g_inf = cin // cpg
    if groups is not None and groups != g_inf:
        raise ValueError(f"groups={groups} but input/weight shapes imply {g_inf}")
    if cout % g_inf != 0:
        raise ValueError(f"{cout} output channels are not divisible by groups={g_inf}")
    if offset.shape[1] % (2 * taps) != 0:
        raise ValueError(f"offset has {offset.shape[1]} channels, not a multiple of 2·kh·kw = {2 * taps}")
    dg = offset.shape[1] // (2 * taps)
    if deformable_groups is not None and deformable_groups != dg:
        raise ValueError(f"deformable_groups={deformable_groups} but offset shape implies {dg}")
    if cin % dg != 0:
        raise ValueError(f"{cin} input channels are not divisible by deformable_groups={dg}")
    ho = (h + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1
    wo = (w + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1
    if ho <= 0 or wo <= 0:
        raise ValueError(f"input {h}x{w} is too small for kernel {kh}x{kw} with these padding/dilation")
    if tuple(offset.shape) != (n, 2 * dg * taps, ho, wo):
        raise ValueError(f"offset shape {tuple(offset.shape)} != {(n, 2 * dg * taps, ho, wo)}")
    if mask is not None and tuple(mask.shape) != (n, dg * taps, ho, wo):
        raise ValueError(f"mask shape {tuple(mask.shape)} != {(n, dg * taps, ho, wo)}")

    chosen = _requested(impl, use_torchvision)
    if chosen in ("auto", "torchvision"):
        op = _torchvision_op()
        if op is None and chosen == "torchvision":
            raise ToolError(
                "torchvision.ops.deform_conv2d is not importable; install the torchvision matching torch "
                "or pass use_torchvision=False"
            )
        if op is not None:
            return op(input, offset, weight, bias, stride=(sh, sw), padding=(ph, pw),
                      dilation=(dh, dw), mask=mask)
    function: type[torch.autograd.Function] = _PLAIN[0]
    if chosen in ("auto", "native") and _native_handles(input, offset, mask, weight, bias):
        function = _native._NativeDeformConv
    return _deform_conv_plain(input, offset, mask, weight, bias, (sh, sw), (ph, pw), (dh, dw), g_inf, dg,
                              ho, wo, function)


@dataclass(frozen=True)
class _Geometry:
    """Shapes and hyper-parameters of one call (everything but the tensors)."""

    h: int
    w: int
    ho: int
    wo: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    dg: int

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]


def _deform_conv_plain(
    x: Tensor, offset: Tensor, mask: Tensor | None, weight: Tensor, bias: Tensor | None,
    stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int], groups: int, dg: int,
    ho: int, wo: int, function: type[torch.autograd.Function] | None = None,
) -> Tensor:
    """Apply ``function`` (an ``autograd.Function`` with the plain one's arguments; default: the plain
    path's) under the autocast rule below."""
    if function is None:
        function = _PLAIN[0]
    if autocast_active(x.device.type):
        # under autocast (bf16 training) the operator runs in fp32, as torchvision's autocast rule does: a
        # bf16 sampling grid would be off by up to half a pixel at 240 px; the output takes the input's dtype
        with fp32_region(x.device.type):
            out = _deform_conv_plain(x.float(), offset.float(), mask.float() if mask is not None else None,
                                     weight.float(), bias.float() if bias is not None else None, stride,
                                     padding, dilation, groups, dg, ho, wo, function)
        return out.to(x.dtype)
    h, w = x.shape[-2:]
    # plain ints throughout: under torch.jit.trace (fvcore) sizes read from shapes are traced values,
    # which a custom Function's non-tensor arguments must not hold
    geom = _Geometry(int(h), int(w), int(ho), int(wo), (int(weight.shape[2]), int(weight.shape[3])), stride,
                     padding, dilation, int(groups), int(dg))
    # needs_input_grad stays True under no_grad for tensors that require grad (parameters): without this
    # flag inference would keep the samples and columns for a backward that never comes
    track = torch.is_grad_enabled()
    out = function.apply(x, offset.contiguous(), mask.contiguous() if mask is not None else None, weight,
                            bias, geom, track)
    assert isinstance(out, Tensor)
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        # a channels-last input (inference_memory_format) gets a channels-last output, as a convolution's does
        out = out.contiguous(memory_format=torch.channels_last)
    return out


@dataclass(frozen=True)
class _Chunk:
    """Output rows ``[r0, r1)`` and the input rows ``[lo, lo + hw)`` that hold every one of their samples."""

    r0: int
    r1: int
    lo: int
    hw: int

    @property
    def rows(self) -> int:
        return self.r1 - self.r0


def _row_ranges(rows: int, bytes_per_row: int, budget: int) -> list[tuple[int, int]]:
    """Output-row ranges whose column buffer stays within ``budget`` bytes."""
    step = max(1, min(rows, budget // max(1, bytes_per_row)))
    return [(r, min(rows, r + step)) for r in range(0, rows, step)]


def _chunks(offset: Tensor, geom: _Geometry, bytes_per_row: int, budget: int) -> list[_Chunk]:
    """Row chunks of at most ``budget`` column bytes and their input windows.

    A sample of output row ``o`` at tap row ``i`` lies at ``y = o·s − p + i·d + Δy``; the window of a chunk
    spans ``[⌊min y⌋, ⌊max y⌋ + 1]`` clipped to the frame, so every sample with a non-zero corner reads
    inside it and a sample outside the frame is still zero (the window's edge is then the frame's). On the
    meta device the whole output is one chunk over the whole frame; with non-finite offsets a chunk's window
    is the whole frame.
    """
    if offset.device.type == "meta":
        # nothing is allocated on the meta device: one chunk, so shape-only counting makes no per-chunk calls
        return [_Chunk(0, geom.ho, 0, geom.h)]
    ranges = _row_ranges(geom.ho, bytes_per_row, budget)
    (kh, _), (sh, _), (ph, _), (dh, _) = geom.kernel, geom.stride, geom.padding, geom.dilation
    off_y = offset.view(offset.shape[0], geom.dg * geom.taps, 2, geom.ho, geom.wo)[:, :, 0]
    chunks = []
    for r0, r1 in ranges:
        lo_off, hi_off = (float(v) for v in torch.aminmax(off_y[:, :, r0:r1]))
        y_min = r0 * sh - ph + lo_off
        y_max = (r1 - 1) * sh - ph + (kh - 1) * dh + hi_off
        if not (math.isfinite(y_min) and math.isfinite(y_max)):
            chunks.append(_Chunk(r0, r1, 0, geom.h))
            continue
        lo = min(geom.h - 1, max(0, math.floor(y_min)))
        hi = min(geom.h - 1, max(0, math.floor(y_max) + 1))
        chunks.append(_Chunk(r0, r1, lo, hi - lo + 1))
    return chunks


def _grid_x(geom: _Geometry, like: Tensor) -> Tensor:
    """Normalised x of every tap at zero offset, ``(kh·kw, 1, W_out)``.

    ``grid_sample(align_corners=False)`` un-normalises ``g`` to ``((g + 1)·size − 1)/2``, so the pixel
    position ``p`` is ``g = (2p + 1)/size − 1`` and a displacement ``d`` adds ``2d/size``.
    """
    (kh, kw), (_, sw), (_, pw), (_, dw) = geom.kernel, geom.stride, geom.padding, geom.dilation
    px = (torch.arange(geom.wo, dtype=like.dtype, device=like.device) * sw - pw).view(1, -1)
    px = px + (torch.arange(kw, dtype=like.dtype, device=like.device) * dw).view(-1, 1)
    return ((2 * px + 1) / geom.w - 1).repeat(kh, 1).view(geom.taps, 1, geom.wo)


def _grid_y(geom: _Geometry, chunk: _Chunk, like: Tensor) -> Tensor:
    """Normalised y of every tap at zero offset in the chunk's window, ``(kh·kw, rows, 1)``."""
    (kh, kw), (sh, _), (ph, _), (dh, _) = geom.kernel, geom.stride, geom.padding, geom.dilation
    py = (torch.arange(chunk.r0, chunk.r1, dtype=like.dtype, device=like.device) * sh - ph - chunk.lo).view(1, -1)
    py = py + (torch.arange(kh, dtype=like.dtype, device=like.device) * dh).view(-1, 1)
    return ((2 * py + 1) / chunk.hw - 1).repeat_interleave(kw, dim=0).view(geom.taps, chunk.rows, 1)


def _grid(offset: Tensor, gx: Tensor, geom: _Geometry, chunk: _Chunk) -> Tensor:
    """``grid_sample`` grid ``(N·dg, kh·kw·rows, W_out, 2)`` of a chunk in its window, every tap at once.

    The grid is a view of x and y planes ``(N·dg, 2, kh·kw·rows, W_out)``: ``grid_sample`` reads that
    layout directly, and the planes are built from the offsets by two contiguous scaled adds.
    """
    n, r0, r1 = offset.shape[0], chunk.r0, chunk.r1
    off = offset.view(n, geom.dg, geom.taps, 2, geom.ho, geom.wo)[..., r0:r1, :]
    planes = offset.new_empty((n, geom.dg, 2, geom.taps, r1 - r0, geom.wo))
    torch.add(gx, off[:, :, :, 1], alpha=2 / geom.w, out=planes[:, :, 0])
    torch.add(_grid_y(geom, chunk, offset), off[:, :, :, 0], alpha=2 / chunk.hw, out=planes[:, :, 1])
    return planes.view(n * geom.dg, 2, geom.taps * (r1 - r0), geom.wo).permute(0, 2, 3, 1)


def _window(xg: Tensor, chunk: _Chunk) -> Tensor:
    return xg[:, :, chunk.lo:chunk.lo + chunk.hw]


def _sample(xg: Tensor, grid: Tensor, n: int, taps: int) -> Tensor:
    """Bilinear samples with zeros outside, as columns ``(N, C_in·kh·kw, rows·W_out)`` in (c, tap) order."""
    s = F.grid_sample(xg, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return s.view(n, -1, s.shape[-2] // taps * s.shape[-1])


def _masked(s: Tensor, mask: Tensor | None, geom: _Geometry, chunk: _Chunk, *, inplace: bool) -> Tensor:
    """``s`` times the modulation of its tap and position (``s`` itself when there is no mask)."""
    if mask is None:
        return s
    n = s.shape[0]
    m = mask.view(n, geom.dg, 1, geom.taps, geom.ho, geom.wo)[..., chunk.r0:chunk.r1, :]
    cols = s.view(n, geom.dg, -1, geom.taps, chunk.rows, geom.wo)
    return (cols.mul_(m) if inplace else cols * m).view(s.shape)


def _grouped(weight: Tensor, groups: int) -> Tensor:
    """Weight as ``(groups, C_out/groups, C_in/groups·kh·kw)``, matching the (c, tap) column order."""
    return weight.reshape(groups, weight.shape[0] // groups, -1)


class _DeformConv(torch.autograd.Function):
    """Plain-PyTorch DCNv2: per chunk of output rows, one ``grid_sample`` of every tap and one GEMM.

    Forward keeps, per chunk, the sampling grid (when the input, offset or mask need a gradient) and the
    unmasked samples (when the mask or the weight do). Backward multiplies by the weight, reduces the mask
    gradient from the samples and hands the sample gradient to ``grid_sampler_2d_backward``, which gives
    the input gradient of the chunk's window and the grid gradient in one call; the offset gradient is the
    grid gradient rescaled.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, offset: Tensor, mask: Tensor | None, weight: Tensor, bias: Tensor | None,
        geom: _Geometry, track: bool,
    ) -> Tensor:
        n, cin = x.shape[:2]
        xg = x.reshape(n * geom.dg, cin // geom.dg, geom.h, geom.w)
        gx = _grid_x(geom, x)
        wg = _grouped(weight, geom.groups)
        need = [track and k for k in ctx.needs_input_grad]
        # per chunk: unmasked samples (mask grad), columns (weight grad), grid (input/offset/mask grads)
        keep = (need[2], need[3], need[0] or need[1] or need[2])
        saved: list[Tensor | None] = []
        out = x.new_empty((n, weight.shape[0], geom.ho * geom.wo))
        budget = _COLUMN_BUDGET_BYTES if any(keep) else _INFERENCE_BUDGET_BYTES
        chunks = _chunks(offset, geom, n * cin * geom.taps * geom.wo * x.element_size(), budget)
        for chunk in chunks:
            grid = _grid(offset, gx, geom, chunk)
            s = _sample(_window(xg, chunk), grid, n, geom.taps)
            col = _masked(s, mask, geom, chunk, inplace=not keep[0]).view(n, geom.groups, -1, s.shape[-1])
            y = out[..., chunk.r0 * geom.wo:chunk.r1 * geom.wo].view(n, geom.groups, -1, s.shape[-1])
            torch.matmul(wg, col, out=y)
            saved += [t if k else None for t, k in zip((s, col, grid), keep)]
        if bias is not None:
            out += bias.view(1, -1, 1)
        ctx.geom, ctx.chunks, ctx.has_bias = geom, chunks, bias is not None
        ctx.save_for_backward(x, mask, weight, *saved)
        return out.view(n, weight.shape[0], geom.ho, geom.wo)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        x, mask, weight, *saved = ctx.saved_tensors
        geom: _Geometry = ctx.geom
        need = ctx.needs_input_grad
        n, cin = x.shape[:2]
        xg = x.reshape(n * geom.dg, cin // geom.dg, geom.h, geom.w)
        wg = _grouped(weight, geom.groups)
        go = grad_out.reshape(n, geom.groups, -1, geom.ho * geom.wo)
        g_x: Tensor | None = None
        g_off = x.new_empty((n, 2 * geom.dg * geom.taps, geom.ho, geom.wo)) if need[1] else None
        g_mask = torch.empty_like(mask) if need[2] else None
        g_w = torch.zeros_like(wg) if need[3] else None
        for i, chunk in enumerate(ctx.chunks):
            go_c = go[..., chunk.r0 * geom.wo:chunk.r1 * geom.wo]
            s, col, grid = saved[3 * i:3 * i + 3]
            if g_w is not None and col is not None:
                g_w += torch.matmul(go_c, col.transpose(-1, -2)).sum(0)
            if grid is not None:
                g_col = torch.matmul(wg.transpose(-1, -2), go_c).view(n, cin * geom.taps, -1)
                gi = _backward_sampling(g_col, s, _window(xg, chunk), grid, mask, geom, chunk, need[0], g_off,
                                        g_mask)
                if gi is not None:
                    g_x = _accumulate_window(g_x, gi, xg, chunk)
        g_b = grad_out.sum((0, 2, 3)) if ctx.has_bias and need[4] else None
        return (g_x.view(x.shape) if g_x is not None else None, g_off, g_mask,
                g_w.view(weight.shape) if g_w is not None else None, g_b, None, None)


def _accumulate_window(g_x: Tensor | None, gi: Tensor, xg: Tensor, chunk: _Chunk) -> Tensor:
    """``g_x`` plus the chunk's window gradient ``gi`` in its rows (``gi`` itself for a first, whole-frame
    window: no zeroed frame and no copy)."""
    if g_x is None and chunk.lo == 0 and chunk.hw == xg.shape[2]:
        return gi
    if g_x is None:
        g_x = torch.zeros_like(xg)
    _window(g_x, chunk).add_(gi)
    return g_x


def _backward_sampling(
    g_col: Tensor, s: Tensor | None, xw: Tensor, grid: Tensor, mask: Tensor | None, geom: _Geometry,
    chunk: _Chunk, need_x: bool, g_off: Tensor | None, g_mask: Tensor | None,
) -> Tensor | None:
    """Offset and mask gradients of one row chunk from the column gradient ``g_col``, written into
    ``g_off`` and ``g_mask``; returns the gradient of the chunk's input window ``xw`` if wanted.

    ``g_col`` is overwritten; the saved samples ``s`` are kept, so the graph can be differentiated again.
    """
    n, r0, r1 = g_col.shape[0], chunk.r0, chunk.r1
    cols = g_col.view(n, geom.dg, -1, geom.taps, r1 - r0, geom.wo)
    if g_mask is not None and s is not None:
        # Σ_c g_col·s, one channel at a time so that no product of the column size is allocated
        samples, gm = s.view(cols.shape), g_mask.view(n, geom.dg, geom.taps, geom.ho, geom.wo)[..., r0:r1, :]
        torch.mul(cols[:, :, 0], samples[:, :, 0], out=gm)
        for c in range(1, cols.shape[2]):
            gm.addcmul_(cols[:, :, c], samples[:, :, c])
    if mask is not None:
        cols.mul_(mask.view(n, geom.dg, 1, geom.taps, geom.ho, geom.wo)[..., r0:r1, :])
    if not need_x and g_off is None:
        return None
    g_s = cols.view(xw.shape[0], xw.shape[1], -1, geom.wo)
    gi, gg = torch.ops.aten.grid_sampler_2d_backward(g_s, xw, grid, 0, 0, False, [need_x, g_off is not None])
    if g_off is not None:
        gg = gg.view(n, geom.dg, geom.taps, r1 - r0, geom.wo, 2)
        off = g_off.view(n, geom.dg, geom.taps, 2, geom.ho, geom.wo)[..., r0:r1, :]
        torch.mul(gg[..., 1], 2 / chunk.hw, out=off[:, :, :, 0])
        torch.mul(gg[..., 0], 2 / geom.w, out=off[:, :, :, 1])
    return gi if need_x else None


#: the ``autograd.Function`` the plain path applies (see :func:`plain_implementation`)
_PLAIN: list[type[torch.autograd.Function]] = [_DeformConv]
PLAIN_IMPLEMENTATIONS: dict[str, type[torch.autograd.Function]] = {"current": _DeformConv,
                                                                   "legacy": LegacyDeformConv}


#: what :func:`plain_implementation` may name
DEFORM_IMPLS = ("auto", *PLAIN_IMPLEMENTATIONS, "native")


@contextlib.contextmanager
def plain_implementation(name: str) -> Iterator[None]:
    """Inside the block calls that name no implementation (no ``impl``, ``use_torchvision=None``) run the
    plain path's ``"current"`` or ``"legacy"`` implementation (:mod:`.deform_conv_legacy`, the one it
    replaced; same function, same arguments), or ``"native"`` (:mod:`.deform_conv_native`): for before/after
    benchmarks of whole models (``workbench bench runtime --deform-impl legacy``), never for results.
    ``"auto"`` forces nothing (the rule of :func:`modulated_deform_conv2d`)."""
    if name not in DEFORM_IMPLS:
        raise ValueError(f"plain implementation {name!r}: expected one of {', '.join(DEFORM_IMPLS)}")
    before, forced = _PLAIN[0], _FORCED[0]
    if name in PLAIN_IMPLEMENTATIONS:
        _PLAIN[0], _FORCED[0] = PLAIN_IMPLEMENTATIONS[name], "plain"
    elif name == "native":
        _FORCED[0] = "native"
    try:
        yield
    finally:
        _PLAIN[0], _FORCED[0] = before, forced


class ModulatedDeformConv2d(torch.nn.Module):
    """DCNv2 layer with explicit offsets and masks: ``forward(x, offset, mask)``.

    Parameters ``weight`` ``(C_out, C_in / groups, kh, kw)`` and ``bias`` ``(C_out,)`` (the key names of
    BasicSR / mmcv checkpoints). Initialised like BasicSR/mmcv: weight ~ U(±1/√(C_in·kh·kw)), bias 0.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        deformable_groups: int = 1,
        bias: bool = True,
        use_torchvision: bool | None = None,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups or in_channels % deformable_groups:
            raise ValueError(
                f"channels {in_channels}->{out_channels} do not fit groups={groups}, "
                f"deformable_groups={deformable_groups}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.deformable_groups = deformable_groups
        self.use_torchvision = use_torchvision
        self.weight = torch.nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / fan_in**0.5
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor | None) -> Tensor:
        return modulated_deform_conv2d(
            x, offset, mask, self.weight, self.bias, self.stride, self.padding, self.dilation,
            self.groups, self.deformable_groups, use_torchvision=self.use_torchvision,
        )

    def macs(self, out_height: int, out_width: int, batch: int = 1) -> int:
        """Multiply-accumulates of the main convolution for an output of this size (one MAC per weight
        per output element, as for ``nn.Conv2d``; bilinear sampling and ``conv_offset`` not included)."""
        kh, kw = self.kernel_size
        per_output = (self.in_channels // self.groups) * kh * kw
        return batch * self.out_channels * out_height * out_width * per_output

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
            f"deformable_groups={self.deformable_groups}"
        )


class DCNv2Pack(ModulatedDeformConv2d):
    """DCNv2 whose offsets and masks are predicted by a convolution ``conv_offset``.

    ``forward(x, feat=None)``: ``conv_offset(feat)`` (``feat`` defaults to ``x``) gives
    ``3·dg·kh·kw`` channels, split in thirds ``(o1, o2, m)``; ``offset = cat(o1, o2)`` in the layout above
    and ``mask = sigmoid(m)``. This is the "DCNv2Pack" of EDVR's PCD module (BasicSR ``arch_util``), which
    predicts offsets from features other than the sampled ones (Chan et al., "Understanding Deformable
    Alignment in Video Super-Resolution", AAAI 2021). ``conv_offset`` starts at zero (regular conv,
    masks 0.5), as in BasicSR/mmcv.
    """

    def __init__(self, *, offset_in_channels: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        kh, kw = self.kernel_size
        conv = torch.nn.Conv2d(
            offset_in_channels if offset_in_channels is not None else self.in_channels,
            self.deformable_groups * 3 * kh * kw,
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            bias=True,
        )
        torch.nn.init.zeros_(conv.weight)
        if conv.bias is not None:
            torch.nn.init.zeros_(conv.bias)
        self.conv_offset = conv

    def forward(self, x: Tensor, feat: Tensor | None = None) -> Tensor:  # type: ignore[override]
        o1, o2, m = torch.chunk(self.conv_offset(x if feat is None else feat), 3, dim=1)
        return modulated_deform_conv2d(
            x, torch.cat((o1, o2), dim=1), torch.sigmoid(m), self.weight, self.bias, self.stride,
            self.padding, self.dilation, self.groups, self.deformable_groups,
            use_torchvision=self.use_torchvision,
        )
