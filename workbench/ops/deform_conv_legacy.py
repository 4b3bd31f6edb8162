"""The plain deformable convolution as it was before the windowed, cache-sized chunks (kept for the benchmark).

``workbench bench deform --impl legacy`` times this implementation beside the current one
(:mod:`workbench.ops.deform_conv`) in the same run, so the speed-up is measured, not remembered. It computes
the same function (the tests compare both with the float64 reference): per chunk of output rows of at most
256 MiB of columns, one ``grid_sample`` of every kernel tap over the whole frame, one GEMM, and a backward
whose ``grid_sampler_2d_backward`` returns a full-frame input gradient per chunk. Not used by any model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

#: upper bound of the sampled-column buffer of one chunk of output rows (bytes)
_COLUMN_BUDGET_BYTES = 256 * 2**20


def legacy_deform_conv2d(
    x: Tensor, offset: Tensor, mask: Tensor | None, weight: Tensor, bias: Tensor | None = None,
    padding: int = 1,
) -> Tensor:
    """Stride-1, dilation-1, ungrouped DCNv2 ``(N, C_in, H, W) → (N, C_out, H_out, W_out)`` by the legacy path
    (the benchmark's shapes; deformable groups from ``offset``). :class:`LegacyDeformConv` takes the
    arguments of the current ``_DeformConv`` (its geometry by attribute), so
    :func:`workbench.ops.deform_conv.plain_implementation` can swap it in for any call."""
    n, _, h, w = x.shape
    kh, kw = int(weight.shape[2]), int(weight.shape[3])
    ho, wo = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    dg = offset.shape[1] // (2 * kh * kw)
    geom = _Geometry(int(h), int(w), ho, wo, (kh, kw), (1, 1), (padding, padding), (1, 1), 1, dg)
    out = LegacyDeformConv.apply(x, offset.contiguous(), mask.contiguous() if mask is not None else None, weight,
                            bias, geom, torch.is_grad_enabled())
    assert isinstance(out, Tensor)
    return out


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


def _row_chunks(rows: int, bytes_per_row: int) -> list[tuple[int, int]]:
    """Output-row ranges whose column buffer stays within ``_COLUMN_BUDGET_BYTES``."""
    step = max(1, min(rows, _COLUMN_BUDGET_BYTES // max(1, bytes_per_row)))
    return [(r, min(rows, r + step)) for r in range(0, rows, step)]


def _grid_constants(geom: _Geometry, like: Tensor) -> tuple[Tensor, Tensor]:
    """Normalised sampling positions at zero offset, ``(kh·kw, H_out, W_out)`` each for x and for y.

    ``grid_sample(align_corners=False)`` un-normalises ``g`` to ``((g + 1)·size − 1)/2``, so the pixel
    position ``p`` is ``g = (2p + 1)/size − 1`` and a displacement ``d`` adds ``2d/size``.
    """
    opts: dict[str, Any] = {"dtype": like.dtype, "device": like.device}
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geom.kernel, geom.stride, geom.padding, geom.dilation
    py = (torch.arange(geom.ho, **opts) * sh - ph).view(1, -1, 1) + (torch.arange(kh, **opts) * dh).view(-1, 1, 1)
    px = (torch.arange(geom.wo, **opts) * sw - pw).view(1, 1, -1) + (torch.arange(kw, **opts) * dw).view(-1, 1, 1)
    gy = ((2 * py + 1) / geom.h - 1).repeat_interleave(kw, dim=0).expand(geom.taps, geom.ho, geom.wo)
    gx = ((2 * px + 1) / geom.w - 1).repeat(kh, 1, 1).expand(geom.taps, geom.ho, geom.wo)
    return gx, gy


def _grid(offset: Tensor, consts: tuple[Tensor, Tensor], geom: _Geometry, rows: tuple[int, int]) -> Tensor:
    """``grid_sample`` grid ``(N·dg, kh·kw·rows, W_out, 2)`` of output rows ``rows``, every tap at once.

    The grid is a view of x and y planes ``(N·dg, 2, kh·kw·rows, W_out)``: ``grid_sample`` reads that
    layout directly, and the planes are built from the offsets by two contiguous scaled adds.
    """
    n, (r0, r1) = offset.shape[0], rows
    off = offset.view(n, geom.dg, geom.taps, 2, geom.ho, geom.wo)[..., r0:r1, :]
    planes = offset.new_empty((n, geom.dg, 2, geom.taps, r1 - r0, geom.wo))
    torch.add(consts[0][:, r0:r1], off[:, :, :, 1], alpha=2 / geom.w, out=planes[:, :, 0])
    torch.add(consts[1][:, r0:r1], off[:, :, :, 0], alpha=2 / geom.h, out=planes[:, :, 1])
    return planes.view(n * geom.dg, 2, geom.taps * (r1 - r0), geom.wo).permute(0, 2, 3, 1)


def _sample(xg: Tensor, grid: Tensor, n: int, taps: int) -> Tensor:
    """Bilinear samples with zeros outside, as columns ``(N, C_in·kh·kw, rows·W_out)`` in (c, tap) order."""
    s = F.grid_sample(xg, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return s.view(n, -1, s.shape[-2] // taps * s.shape[-1])


def _masked(s: Tensor, mask: Tensor | None, geom: _Geometry, rows: tuple[int, int], *, inplace: bool) -> Tensor:
    """``s`` times the modulation of its tap and position (``s`` itself when there is no mask)."""
    if mask is None:
        return s
    n, (r0, r1) = s.shape[0], rows
    m = mask.view(n, geom.dg, 1, geom.taps, geom.ho, geom.wo)[..., r0:r1, :]
    cols = s.view(n, geom.dg, -1, geom.taps, r1 - r0, geom.wo)
    return (cols.mul_(m) if inplace else cols * m).view(s.shape)


def _grouped(weight: Tensor, groups: int) -> Tensor:
    """Weight as ``(groups, C_out/groups, C_in/groups·kh·kw)``, matching the (c, tap) column order."""
    return weight.reshape(groups, weight.shape[0] // groups, -1)


class LegacyDeformConv(torch.autograd.Function):
    """Plain-PyTorch DCNv2: per chunk of output rows, one ``grid_sample`` of every tap and one GEMM.

    Forward keeps, per chunk, the sampling grid (when the input, offset or mask need a gradient) and the
    unmasked samples (when the mask or the weight do). Backward multiplies by the weight, reduces the mask
    gradient from the samples and hands the sample gradient to ``grid_sampler_2d_backward``, which gives
    the input and grid gradients in one call; the offset gradient is the grid gradient rescaled.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, offset: Tensor, mask: Tensor | None, weight: Tensor, bias: Tensor | None,
        geom: _Geometry, track: bool,
    ) -> Tensor:
        n, cin = x.shape[:2]
        xg = x.reshape(n * geom.dg, cin // geom.dg, geom.h, geom.w)
        consts = _grid_constants(geom, x)
        wg = _grouped(weight, geom.groups)
        need = [track and k for k in ctx.needs_input_grad]
        # per chunk: unmasked samples (mask grad), columns (weight grad), grid (input/offset/mask grads)
        keep = (need[2], need[3], need[0] or need[1] or need[2])
        saved: list[Tensor | None] = []
        ys = []
        for rows in _row_chunks(geom.ho, n * cin * geom.taps * geom.wo * x.element_size()):
            grid = _grid(offset, consts, geom, rows)
            s = _sample(xg, grid, n, geom.taps)
            col = _masked(s, mask, geom, rows, inplace=not keep[0]).view(n, geom.groups, -1, s.shape[-1])
            ys.append(torch.matmul(wg, col).view(n, weight.shape[0], -1))
            saved += [t if k else None for t, k in zip((s, col, grid), keep)]
        out = ys[0] if len(ys) == 1 else torch.cat(ys, dim=-1)
        if bias is not None:
            out += bias.view(1, -1, 1)
        ctx.geom, ctx.has_bias = geom, bias is not None
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
        chunks = _row_chunks(geom.ho, n * cin * geom.taps * geom.wo * x.element_size())
        for i, rows in enumerate(chunks):
            go_c = go[..., rows[0] * geom.wo:rows[1] * geom.wo]
            s, col, grid = saved[3 * i:3 * i + 3]
            if g_w is not None and col is not None:
                g_w += torch.matmul(go_c, col.transpose(-1, -2)).sum(0)
            if grid is not None:
                g_col = torch.matmul(wg.transpose(-1, -2), go_c).view(n, cin * geom.taps, -1)
                gi = _backward_sampling(g_col, s, xg, grid, mask, geom, rows, need[0], g_off, g_mask)
                g_x = gi if g_x is None or gi is None else g_x.add_(gi)
        g_b = grad_out.sum((0, 2, 3)) if ctx.has_bias and need[4] else None
        return (g_x.view(x.shape) if g_x is not None else None, g_off, g_mask,
                g_w.view(weight.shape) if g_w is not None else None, g_b, None, None)


def _backward_sampling(
    g_col: Tensor, s: Tensor | None, xg: Tensor, grid: Tensor, mask: Tensor | None, geom: _Geometry,
    rows: tuple[int, int], need_x: bool, g_off: Tensor | None, g_mask: Tensor | None,
) -> Tensor | None:
    """Offset and mask gradients of one row chunk from the column gradient ``g_col``, written into
    ``g_off`` and ``g_mask``; returns this chunk's input gradient ``(N·dg, C_in/dg, H, W)`` if wanted.

    ``g_col`` is overwritten; the saved samples ``s`` are kept, so the graph can be differentiated again.
    """
    n, (r0, r1) = g_col.shape[0], rows
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
    g_s = cols.view(xg.shape[0], xg.shape[1], -1, geom.wo)
    gi, gg = torch.ops.aten.grid_sampler_2d_backward(g_s, xg, grid, 0, 0, False, [need_x, g_off is not None])
    if g_off is not None:
        gg = gg.view(n, geom.dg, geom.taps, r1 - r0, geom.wo, 2)
        off = g_off.view(n, geom.dg, geom.taps, 2, geom.ho, geom.wo)[..., r0:r1, :]
        torch.mul(gg[..., 1], 2 / geom.h, out=off[:, :, :, 0])
        torch.mul(gg[..., 0], 2 / geom.w, out=off[:, :, :, 1])
    return gi if need_x else None
