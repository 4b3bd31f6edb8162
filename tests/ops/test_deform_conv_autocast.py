"""Under bf16 autocast (``precision: bf16``) the plain deformable convolution runs in fp32, as torchvision's
autocast rule does: the same output as fp32 on the same input (returned in the input's dtype), and its
backward, which runs outside autocast, no longer meets mixed dtypes (EDVR and BasicVSR++ failed there)."""

from __future__ import annotations

import torch

from workbench.ops.deform_conv import modulated_deform_conv2d


def _inputs() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 16, 8, 10, generator=g)
    offset = 2 * torch.randn(1, 2 * 4 * 9, 8, 10, generator=g)
    mask = torch.rand(1, 4 * 9, 8, 10, generator=g)
    weight = torch.randn(16, 16, 3, 3, generator=g) / 12
    bias = torch.randn(16, generator=g) / 10
    return x, offset, mask, weight, bias


def test_plain_path_is_fp32_inside_autocast_and_differentiable() -> None:
    x, offset, mask, weight, bias = _inputs()
    x_bf16 = x.bfloat16()
    ref = modulated_deform_conv2d(x_bf16.float(), offset, mask, weight, bias, padding=1, use_torchvision=False)
    leaves = [t.clone().requires_grad_(True) for t in (offset, mask, weight, bias)]
    xin = x_bf16.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = modulated_deform_conv2d(xin, *leaves[:3], leaves[3], padding=1, use_torchvision=False)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), ref.bfloat16().float(), rtol=0, atol=0)  # fp32 result, rounded once
    out.float().sum().backward()
    assert xin.grad is not None and xin.grad.dtype == torch.bfloat16
    assert all(t.grad is not None and t.grad.dtype == torch.float32 for t in leaves)
