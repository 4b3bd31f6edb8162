"""Rate–distortion training of :class:`~workbench.codec.learned.HyperpriorCodec` (Ballé et al. 2018).

Loss per batch: ``L = λ · 255² · MSE(x, x̂) + bpp``, with MSE on [0, 1] RGB and
``bpp = −Σ log2 p(ỹ, z̃) / (N · H · W)`` (CompressAI's convention for λ). Adam, gradient-norm clip 1.0.
Data: random ``patch × patch`` crops (with random horizontal flips) of the given clean frames; the
crop positions and the quantisation noise of step ``s`` are seeded by ``(seed, s)``, so a resumed run
repeats exactly the run that was interrupted.

Checkpoints are written atomically every ``checkpoint_every`` steps and at the end to the path the
caller gives (e.g. the study cell's ``work_dir``); an existing checkpoint is resumed, a finished one
is loaded without training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from workbench.checkpoint import load_strict, read_training_state, save_training_state
from workbench.codec.learned import HyperpriorCodec, estimated_bits
from workbench.config import config_hash


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one λ (all recorded with the weights)."""

    lam: float
    steps: int = 600
    n: int = 32
    m: int = 32
    patch: int = 64
    batch: int = 8
    lr: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 100


def sample_batch(
    frames: list[np.ndarray], *, patch: int, batch: int, generator: torch.Generator
) -> torch.Tensor:
    """``(batch, 3, patch, patch)`` crops of random frames (each (H, W, 3) float32, H, W ≥ patch)."""
    out = []
    for _ in range(batch):
        f = frames[int(torch.randint(len(frames), (1,), generator=generator))]
        h, w = f.shape[:2]
        top = int(torch.randint(h - patch + 1, (1,), generator=generator))
        left = int(torch.randint(w - patch + 1, (1,), generator=generator))
        crop = f[top : top + patch, left : left + patch]
        if bool(torch.randint(2, (1,), generator=generator)):
            crop = crop[:, ::-1]
        out.append(torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))))
    return torch.stack(out).float()


def rd_loss(model: HyperpriorCodec, x: torch.Tensor, lam: float) -> tuple[torch.Tensor, float, float]:
    """``(loss, mse, bpp)`` of one batch ``x`` (N, 3, H, W) in [0, 1]."""
    out = model(x)
    mse = torch.mean((out["x_hat"] - x) ** 2)
    bpp = estimated_bits(out) / (x.shape[0] * x.shape[2] * x.shape[3])
    return lam * 255.0**2 * mse + bpp, float(mse.detach()), float(bpp.detach())


def _pad_small(frames: list[np.ndarray], patch: int) -> list[np.ndarray]:
    out = []
    for f in frames:
        ph, pw = max(0, patch - f.shape[0]), max(0, patch - f.shape[1])
        out.append(np.pad(f, ((0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else f)
    return out


def train_hyperprior(
    frames: list[np.ndarray],
    settings: TrainSettings,
    *,
    checkpoint: Path,
    init: Path | None = None,
    log: Callable[[str], None] | None = None,
    device: str = "cpu",
) -> tuple[HyperpriorCodec, dict[str, object]]:
    """Train (or resume, or load) one codec; returns the model (eval mode) and a summary dict.

    ``frames``: clean training frames (H, W, 3) float32 in [0, 1]. ``init``: a finished checkpoint of the
    same architecture to start from (λ fine-tuning); ignored when ``checkpoint`` already exists.
    Training runs on ``device``; the returned model is on the CPU, where the entropy coder runs.
    """
    torch.manual_seed(settings.seed)
    model = HyperpriorCodec(n=settings.n, m=settings.m)
    # the run length may grow (resume, extend); every other setting must match the checkpoint
    key = config_hash({k: v for k, v in asdict(settings).items() if k not in ("steps", "checkpoint_every")})
    state = read_training_state(checkpoint, spec_hash=key) if checkpoint.is_file() else None
    if state is not None:
        load_strict(model, state["model"], source=str(checkpoint))
    elif init is not None:
        load_strict(model, read_training_state(init)["model"], source=str(init))
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    step, history, seconds = 0, [], 0.0
    if state is not None:
        opt.load_state_dict(state["optim"])  # state tensors follow the parameters' device
        step, history, seconds = int(state["step"]), list(state["history"]), float(state["seconds"])
    data = _pad_small(frames, settings.patch)
    model.train()
    start = time.perf_counter()
    while step < settings.steps:
        gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
        torch.manual_seed(settings.seed * 1_000_003 + step)
        x = sample_batch(data, patch=settings.patch, batch=settings.batch, generator=gen).to(device)
        loss, mse, bpp = rd_loss(model, x, settings.lam)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        history.append([float(step), float(loss.detach()), mse, bpp])
        if step % settings.checkpoint_every == 0 or step == settings.steps:
            elapsed = seconds + time.perf_counter() - start
            save_training_state(checkpoint, model=model, optimizer=opt, step=step, rng=None,
                                spec_hash=key, history=history, seconds=elapsed,
                                settings=asdict(settings))
            if log is not None:
                log(
                    f"lambda={settings.lam:g} step {step}/{settings.steps} loss {history[-1][1]:.4f} "
                    f"mse {mse:.5f} bpp {bpp:.4f}"
                )
    model.cpu().eval()
    tail = np.array(history[-50:]) if history else np.full((1, 4), np.nan)
    summary: dict[str, object] = {
        "steps": step,
        "train_seconds": seconds + time.perf_counter() - start,
        "loss_last50": float(tail[:, 1].mean()),
        "mse_last50": float(tail[:, 2].mean()),
        "bpp_last50": float(tail[:, 3].mean()),
    }
    return model, summary
