"""Modulated deformable convolution (DCNv2) in plain PyTorch.

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

The plain implementation samples one kernel tap (or a chunk of taps) at a time with
``grid_sample(align_corners=False)`` on coordinates normalised so that they map back to the exact pixel
position, and accumulates a grouped 1×1 convolution per chunk; the column buffer is capped at
``_COLUMN_BUDGET_BYTES`` so that 960×540 feature maps with 64–128 channels run on CPU. When
torchvision's compiled operator is importable it is used instead (``use_torchvision=None``, auto); both
compute the same function on every device.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from workbench.errors import ToolError

IntPair = int | tuple[int, int]

#: upper bound of the sampled-column buffer of one chunk of kernel taps (bytes)
_COLUMN_BUDGET_BYTES = 256 * 2**20


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
) -> Tensor:
    """Modulated deformable 2-D convolution; returns ``(N, C_out, H_out, W_out)``.

    Argument order follows mmcv's ``modulated_deform_conv2d`` (``input, offset, mask, weight, bias,
    stride, padding, dilation, groups, deformable_groups``). ``groups`` and ``deformable_groups`` are
    inferred from ``weight`` and ``offset`` when ``None`` and checked when given. ``use_torchvision``:
    ``None`` uses torchvision's operator when it imports, ``True`` requires it, ``False`` forces the plain
    PyTorch path. Differentiable w.r.t. input, offset, mask, weight and bias.
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

    if use_torchvision is None or use_torchvision:
        op = _torchvision_op()
        if op is None and use_torchvision:
            raise ToolError(
                "torchvision.ops.deform_conv2d is not importable; install the torchvision matching torch "
                "or pass use_torchvision=False"
            )
        if op is not None:
            return op(input, offset, weight, bias, stride=(sh, sw), padding=(ph, pw),
                      dilation=(dh, dw), mask=mask)
    return _deform_conv_plain(input, offset, mask, weight, bias, (sh, sw), (ph, pw), (dh, dw), g_inf, dg,
                              ho, wo)


def _deform_conv_plain(
    x: Tensor, offset: Tensor, mask: Tensor | None, weight: Tensor, bias: Tensor | None,
    stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int], groups: int, dg: int,
    ho: int, wo: int,
) -> Tensor:
    n, cin, h, w = x.shape
    cout, cpg, kh, kw = weight.shape
    taps = kh * kw
    off = offset.reshape(n, dg, taps, 2, ho, wo)
    msk = mask.reshape(n, dg, taps, ho, wo) if mask is not None else None
    xg = x.reshape(n * dg, cin // dg, h, w)
    opts: dict[str, Any] = {"dtype": x.dtype, "device": x.device}
    base_y = (torch.arange(ho, **opts) * stride[0] - padding[0]).view(ho, 1)
    base_x = (torch.arange(wo, **opts) * stride[1] - padding[1]).view(1, wo)

    bytes_per_tap = max(1, n * cin * ho * wo * x.element_size())
    chunk = max(1, min(taps, _COLUMN_BUDGET_BYTES // bytes_per_tap))
    out: Tensor | None = None
    for start in range(0, taps, chunk):
        ks = list(range(start, min(taps, start + chunk)))
        cols = []
        for k in ks:
            i, j = divmod(k, kw)
            py = base_y + i * dilation[0] + off[:, :, k, 0]  # (N, dg, Ho, Wo), pixels
            px = base_x + j * dilation[1] + off[:, :, k, 1]
            # align_corners=False un-normalises g to ((g + 1)·size − 1)/2, i.e. back to exactly p
            grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)
            s = F.grid_sample(xg, grid.reshape(n * dg, ho, wo, 2), mode="bilinear", padding_mode="zeros",
                              align_corners=False)  # (N·dg, C_in/dg, Ho, Wo)
            if msk is not None:
                s = s * msk[:, :, k].reshape(n * dg, 1, ho, wo)
            cols.append(s.reshape(n, cin, ho, wo))
        # channel order (c, tap) keeps each conv group's channels contiguous
        col = torch.stack(cols, dim=2).reshape(n, cin * len(ks), ho, wo)
        wk = weight.reshape(cout, cpg, taps)[:, :, ks].reshape(cout, cpg * len(ks), 1, 1)
        y = F.conv2d(col, wk, None, groups=groups)
        out = y if out is None else out + y
    assert out is not None
    if bias is not None:
        out = out + bias.view(1, cout, 1, 1)
    return out


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
