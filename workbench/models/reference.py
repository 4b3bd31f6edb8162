"""Reference "methods" that put the learned models' numbers in context.

``NoisyInput`` returns the degraded frame unchanged: its PSNR is the score of doing nothing, the floor
every restoration model must beat (a smoke run whose model does not beat it has not learned yet).
``scores_unclamped``: its ``psnr_db`` is PSNR-noisy as the official FastDVDNet test script reports it (the
noisy frame unclamped; the two figures differ by 0.73 dB on real Set8 at σ = 30); the evaluation adds the
clamped figure as ``psnr_clamped_db`` (:func:`workbench.evaluate.restoration.protocol_for`).
"""

from __future__ import annotations

from torch import Tensor

from workbench.models.base import RestorationModel


class NoisyInput(RestorationModel):
    """Identity: ``forward(clip (N, 1, C, H, W)) -> clip[:, 0]`` (N, C, H, W). No parameters."""

    temporal_mode = "window"
    window = 1
    #: score the output unclamped (FastDVDNet's PSNR-noisy), with the clamped PSNR as a second metric
    scores_unclamped = True

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        return clip[:, 0]
