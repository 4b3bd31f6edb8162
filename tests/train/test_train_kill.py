"""A real kill: `workbench train` is SIGKILLed after a checkpoint, then resumed with --resume; the final
weights equal those of an uninterrupted run (CPU, bit for bit)."""

import os
import signal
import subprocess
import sys
import time

import torch

from workbench.paths import REPO_ROOT

CONFIG = """model: fastdvdnet
seed: 1
train: {dataset: embedded-train, steps: 120, batch_size: 1, patch_size: 16, clip_frames: 5, lr: 1.0e-3,
        log_every: 5, checkpoint_every: 10, val_every: 0, seed: 2}
"""


def _train(cfg, out, *extra):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "workbench.cli", "train", "--config", str(cfg), "--out", str(out),
                             *extra], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_then_resume_gives_identical_weights(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(CONFIG)
    straight = _train(cfg, tmp_path / "straight")
    assert straight.wait(timeout=300) == 0, straight.stderr.read() if straight.stderr else ""

    killed_dir = tmp_path / "killed"
    proc = _train(cfg, killed_dir)
    ckpt = killed_dir / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (killed_dir / "model.pt").exists(), "the run finished before it could be killed"
    step_at_kill = int(torch.load(ckpt, weights_only=True)["step"])
    assert 0 < step_at_kill < 120

    resumed = _train(cfg, killed_dir, "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read() if resumed.stderr else ""
    a = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)
    b = torch.load(killed_dir / "model.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert (killed_dir / "config.yaml").exists() and (killed_dir / "provenance.json").exists()
