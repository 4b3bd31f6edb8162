"""Reference "methods" that put the learned models' numbers in context.

``NoisyInput`` returns the degraded frame unchanged: its PSNR is the score of doing nothing, the floor
every restoration model must beat (a smoke run whose model does not beat it has not learned yet).
"""

from __future__ import annotations

from torch import Tensor

from workbench.models.base import RestorationModel


class NoisyInput(RestorationModel):
    """Identity: ``forward(clip (N, 1, C, H, W)) -> clip[:, 0]`` (N, C, H, W). No parameters."""

    temporal_mode = "window"
    window = 1

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        return clip[:, 0]
