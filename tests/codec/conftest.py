"""Shared fixtures of the codec tests: tiny synthetic clips and the ffmpeg executable (skip if absent)."""

import numpy as np
import pytest

from workbench.errors import ToolError


def make_smooth_clip(frames: int = 3, h: int = 64, w: int = 64, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) float32 in [0, 1]: moving colour gradients plus a little texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    out = []
    for t in range(frames):
        base = np.stack([np.sin(3 * xx + 0.2 * t), np.cos(2 * yy - 0.1 * t), xx * yy], axis=-1) * 0.4 + 0.5
        out.append(base + 0.03 * rng.standard_normal((h, w, 3)))
    return np.clip(np.stack(out), 0, 1).astype(np.float32)


@pytest.fixture(scope="session")
def ffmpeg_path() -> str:
    from workbench.ffmpeg import ffmpeg_exe

    try:
        return ffmpeg_exe()
    except ToolError as exc:  # the tool is really absent on this machine
        pytest.skip(f"ffmpeg missing: {exc}")


@pytest.fixture(scope="session")
def smooth_clip():  # type: ignore[no-untyped-def]
    """The clip factory :func:`make_smooth_clip`."""
    return make_smooth_clip


@pytest.fixture(autouse=True)
def _one_torch_thread():  # type: ignore[no-untyped-def]
    """Tiny convolutions run fastest on one thread; oversubscribed cores make them 10-25× slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
