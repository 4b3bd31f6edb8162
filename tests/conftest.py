import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ToolError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Results and runs in tmp; the embedded-data cache stays shared (built once per machine). The paper's
    reported numbers are package data (workbench/store/), so the results root starts empty."""
    env = {"WORKBENCH_RESULTS": str(tmp_path / "results"), "WORKBENCH_RUNS": str(tmp_path / "runs")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    (tmp_path / "results").mkdir()
    return tmp_path


def _run_cli(*args: str, env_extra: dict[str, str] | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)


@pytest.fixture
def run_cli():
    """Run the real `workbench` command (``python -m workbench.cli``) in a subprocess."""
    return _run_cli


@pytest.fixture
def cli(capsys):
    """Run ``workbench.cli.main`` in this process (fast); returns an object like CompletedProcess."""
    from workbench.cli import main

    def call(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return call


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



@pytest.fixture
def one_torch_thread():  # type: ignore[no-untyped-def]
    """Tiny convolutions run fastest on one thread; oversubscribed cores make them 10-25× slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
