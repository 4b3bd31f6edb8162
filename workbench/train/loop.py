"""A small, readable training loop: seeded, resumable, logged.

Loss (eq. 6 of the paper for NCFL, plain L2 for the others):
``mean_t L2(y_t, ỹ_t) + Σ_k w_k · aux_k`` where ``aux_k`` are the model's auxiliary terms
(e.g. NCFL's cross-entropy in bits per pixel, eq. 4) and ``w_k`` the configured weights (λ).

Files in ``out_dir``: ``checkpoint.pt`` (model, optimiser, step, RNG state; written atomically every
``checkpoint_every`` steps and at the end), ``loss.csv`` (step, losses, lr, validation PSNR),
``model.pt`` (final weights). A killed run restarted with ``resume=True`` continues from the last
checkpoint and reaches bit-identical final weights on CPU.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from workbench import atomic
from workbench.checkpoint import read_training_state, restore_training_state, save_training_state, save_weights
from workbench.config import config_hash
from workbench.data.sequence import Sequence
from workbench.degrade.awgn import add_awgn_frame, add_training_noise, noise_seed, sample_training_sigma
from workbench.errors import ConfigError
from workbench.evaluate.infer import restore_stream
from workbench.evaluate.metrics import psnr
from workbench.models.base import RestorationModel, RestorationOutput
from workbench.train.sampler import ClipSampler
from workbench.train.spec import TrainSpec

LOG_FIELDS = ["step", "loss", "l2", "aux", "lr", "sigma_mean", "val_psnr_db"]


@dataclass
class TrainResult:
    steps: int
    final_loss: float
    model_path: Path
    resumed_from: int


def _lr_at(spec: TrainSpec, step: int) -> tuple[float, dict[str, float]]:
    _, base, aux = spec.stage_at(step)
    decays = sum(1 for m in spec.milestones if step >= m)
    return base * spec.gamma**decays, aux


def _validate(model: RestorationModel, seqs: list[Sequence], spec: TrainSpec, device: str) -> float:
    values = []
    for seq in seqs[: spec.val_sequences]:
        n = min(len(seq), spec.val_frames)
        seed = noise_seed("val", seq.name, spec.val_sigma)
        sigma = spec.val_sigma if model.uses_noise_map else None

        def noisy(i: int, s: Sequence = seq, sd: int = seed) -> np.ndarray:
            return add_awgn_frame(s.frame(i), spec.val_sigma, sd, i)

        for t, out in restore_stream(model, noisy, n, noise_sigma=sigma, device=device):
            values.append(psnr(seq.frame(t), np.clip(out, 0, 1)))
    model.train()
    return float(np.mean(values)) if values else float("nan")


def _read_log(path: Path, upto: int) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if int(r["step"]) <= upto]


def _write_log(path: Path, rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_FIELDS)
    w.writeheader()
    w.writerows(rows)
    atomic.write_text(path, buf.getvalue())


def train(
    *,
    model: RestorationModel,
    spec: TrainSpec,
    train_sequences: list[Sequence],
    out_dir: Path,
    val_sequences: list[Sequence] | None = None,
    resume: bool = True,
    device: str = "cpu",
    stop_after: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` in place; ``stop_after`` simulates a kill after that many steps (tests)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = out_dir / "checkpoint.pt", out_dir / "loss.csv"
    clip_frames = model.window if model.temporal_mode == "window" else spec.clip_frames
    sampler = ClipSampler(sequences=train_sequences, clip_frames=clip_frames, patch_size=spec.patch_size,
                          augment=spec.augment)
    model.to(device).train()
    optim = torch.optim.Adam(model.parameters(), lr=spec.lr)
    g = torch.Generator().manual_seed(spec.seed)
    spec_key = config_hash(spec)
    step = 0
    if ckpt_path.exists():
        if not resume:
            raise ConfigError(f"{ckpt_path}: a checkpoint exists; pass --resume to continue or choose another --out")
        state = read_training_state(ckpt_path, spec_hash=spec_key)
        step = restore_training_state(state, model=model, optimizer=optim, source=str(ckpt_path))
        g.set_state(state["rng"])
    resumed_from = step
    log_rows = _read_log(log_path, step)
    total = spec.total_steps()
    last_loss = math.nan

    def save_checkpoint() -> None:
        save_training_state(ckpt_path, model=model, optimizer=optim, step=step, rng=g.get_state(),
                            spec_hash=spec_key)
        _write_log(log_path, log_rows)

    bar = tqdm(total=total, initial=step, disable=not progress, desc=out_dir.name, leave=False, mininterval=2.0)
    while step < total:
        lr, aux_w = _lr_at(spec, step)
        for group in optim.param_groups:
            group["lr"] = lr
        clean = sampler.sample(spec.batch_size, g).to(device)
        sigma = sample_training_sigma(spec.batch_size, g, spec.sigma_min, spec.sigma_max)
        noisy = add_training_noise(clean, sigma, g).to(device)
        noise_map = None
        if model.uses_noise_map:
            noise_map = (sigma / 255.0).view(-1, 1, 1, 1).expand(-1, 1, *clean.shape[-2:]).to(device)
        out = model(noisy, noise_map)
        frames = out.frames if isinstance(out, RestorationOutput) else out
        target = clean[:, clean.shape[1] // 2] if model.temporal_mode == "window" else clean
        l2 = torch.mean((frames - target) ** 2)
        aux = torch.zeros((), device=device)
        if isinstance(out, RestorationOutput):
            for name, weight in aux_w.items():
                if name not in out.aux:
                    raise ConfigError(f"aux_weights: model gives no {name!r}; it gives {sorted(out.aux)}")
                aux = aux + weight * out.aux[name]
        loss = l2 + aux
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if spec.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
        optim.step()
        step += 1
        last_loss = float(loss.detach())
        bar.update(1)
        if step % spec.log_every == 0 or step == total:
            row = {"step": str(step), "loss": f"{last_loss:.6g}", "l2": f"{float(l2.detach()):.6g}",
                   "aux": f"{float(aux.detach()):.6g}", "lr": f"{lr:.3g}",
                   "sigma_mean": f"{float(sigma.mean()):.3f}", "val_psnr_db": ""}
            if spec.val_every and val_sequences and (step % spec.val_every == 0 or step == total):
                row["val_psnr_db"] = f"{_validate(model, val_sequences, spec, device):.3f}"
            log_rows.append(row)
            bar.set_postfix(loss=f"{last_loss:.4g}")
        if step % spec.checkpoint_every == 0 or step == total:
            save_checkpoint()
        if stop_after is not None and step >= stop_after:
            break
    bar.close()
    model_path = out_dir / "model.pt"
    if step >= total:
        save_weights(model_path, model)
    return TrainResult(steps=step, final_loss=last_loss, model_path=model_path, resumed_from=resumed_from)
