"""Small building blocks shared by the NCFL modules.

Choices made here (the paper does not state them; its supplementary material is not available):

- activation: ``LeakyReLU(0.1)`` (as in BasicVSR, whose propagation NCFL's recurrence follows);
- down-sampling: a 3x3 convolution with stride 2 and padding 1 (a side ``s`` becomes ``ceil(s / 2)``);
- up-sampling: a 3x3 convolution to ``4 × C_out`` channels followed by ``PixelShuffle(2)``; no transposed
  convolutions, so every FLOP counter (thop, ptflops, fvcore) counts them identically;
- odd sizes: after an up-sampling the result is cropped to the size of the matching encoder tensor
  (:func:`crop_to`), so any ``H, W`` works without padding and MACs at 960x540 are exact.

All tensors are ``(N, C, H, W)`` float32.
"""

from __future__ import annotations

from torch import Tensor, nn

NEGATIVE_SLOPE = 0.1


def act() -> nn.Module:
    return nn.LeakyReLU(NEGATIVE_SLOPE, inplace=False)


def conv3(cin: int, cout: int, *, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding 1 (``stride=2`` halves the side, rounding up)."""
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class Up2(nn.Sequential):
    """x2 up-sampling: 3x3 conv ``cin → 4·cout`` then ``PixelShuffle(2)``."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(conv3(cin, 4 * cout), nn.PixelShuffle(2))


def crop_to(x: Tensor, size: tuple[int, int] | tuple[int, ...]) -> Tensor:
    """Crop ``x`` (N, C, H', W') with ``H' ≥ H``, ``W' ≥ W`` to its top-left ``(H, W)``."""
    h, w = int(size[-2]), int(size[-1])
    if x.shape[-2] < h or x.shape[-1] < w:
        raise ValueError(f"cannot crop {tuple(x.shape)} to {(h, w)}")
    return x[..., :h, :w]


def zero_init(module: nn.Module) -> nn.Module:
    """Zero every weight and bias of ``module`` (a residual branch then starts as the identity)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module
