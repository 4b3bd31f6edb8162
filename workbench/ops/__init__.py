"""Custom operators written in plain PyTorch (with optional compiled fast paths)."""

from workbench.ops.deform_conv import (
    DCNv2Pack,
    ModulatedDeformConv2d,
    modulated_deform_conv2d,
    torchvision_available,
)

__all__ = ["DCNv2Pack", "ModulatedDeformConv2d", "modulated_deform_conv2d", "torchvision_available"]
