"""A small, readable training loop: seeded, resumable, logged.

Loss (eq. 6 of the paper for NCFL, plain L2 for the others):
``mean_t L2(y_t, ỹ_t) + Σ_k w_k · aux_k`` where ``aux_k`` are the auxiliary terms the model returns
(NCFL's cross-entropy in bits per pixel, eq. 4) and ``w_k`` the recipe's weights at that step
(:meth:`~workbench.train.spec.TrainSpec.aux_weights_at`); a weight for a term the model does not return
is not applied, so every row of a table trains under one recipe. The L2 term is the plain mean by default
(``spec.l2_weighting: uniform``, the paper's); ``inverse-sigma`` and ``inverse-variance`` weight each AWGN
clip by a weight ∝ 1/σ or 1/σ² (:mod:`workbench.train.weighting`).

Optimiser: Adam; learning rate :meth:`~workbench.train.spec.TrainSpec.lr_at` (milestone decays as
fractions of the run); the motion network (``model.spynet``) in its own group at ``lr × motion.lr_mult``,
frozen while :meth:`~workbench.train.spec.TrainSpec.motion_frozen_at` (BasicVSR's recipe).

Files in ``out_dir``: ``checkpoint.pt`` (model, optimiser, step, sampler RNG state, config hash; written
atomically by :mod:`workbench.checkpoint` every ``checkpoint_every`` steps and at the end), ``loss.csv``
(:data:`LOG_FIELDS`: losses, lr, validation PSNR and the compression module's zero-bin share, q, σ and
bpp), ``model.pt`` (final weights). A killed run restarted with ``resume=True`` continues from the last
checkpoint and reaches bit-identical final weights on CPU. A non-finite loss stops the run with one line.

Data-parallel (``parallel``, from :func:`workbench.train.distributed.from_env` under ``torchrun``): every
rank draws the whole global batch from the one generator and trains on clips ``rank::world_size`` of it
under DistributedDataParallel (rule and BatchNorm handling in :mod:`workbench.train.distributed`); the
logged losses are means over ranks; only rank 0 writes ``checkpoint.pt``, ``loss.csv`` and ``model.pt``.
Without ``parallel`` the loop is the single-process one, unchanged.

Loader (``spec.loader_workers``; :mod:`workbench.train.loader`): with 0 the clips are decoded in the loop by
:class:`~workbench.train.sampler.ClipSampler`; with N > 0, N worker processes decode them ahead while the
main process keeps drawing every random number from the one generator, so the clips, the losses and the
checkpointed generator state are those of the run without workers, and a resumed run continues alike.

Precision (``spec.precision``; :mod:`workbench.train.precision`): ``bf16`` runs the forward pass under
autocast; the L2 reduction and the auxiliary terms are fp32. ``spec.compile`` runs the network (after the
data-parallel wrapper, if any) under ``torch.compile`` (:mod:`workbench.train.compiled`).

Data: clean sequences get AWGN of σ ~ U[sigma_min, sigma_max] per clip (the denoising tables); degraded/clean
pairs (``kind == "paired"``: the deraining and dehazing sets, :class:`~workbench.data.paired.StackedPair`) are
cropped and augmented together and trained on as they are, with no σ and no noise map
(:func:`training_pair`); nothing is drawn after the clips then, and validation uses the pair's own degraded
frames.

Device: clips are drawn and noised on the CPU (the generator is a CPU one) and moved to ``device`` after.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from workbench import atomic
from workbench.checkpoint import read_training_state, restore_training_state, save_training_state, save_weights
from workbench.config import config_hash
from workbench.data.paired import split_pair
from workbench.data.sensors import CRVD_ISOS
from workbench.data.sequence import Sequence
from workbench.degrade.awgn import add_awgn_frame, noise_seed
from workbench.errors import ConfigError, TrainingError
from workbench.evaluate.infer import restore_stream
from workbench.evaluate.metrics import psnr
from workbench.models.base import RestorationModel, RestorationOutput
from workbench.train.batchnorm import settle_batchnorm
from workbench.train.compiled import maybe_compile
from workbench.train.degradation import degrade_batch, level_map, log_level
from workbench.train.distributed import (
    DistInfo,
    barrier,
    batchnorm_rule,
    check_batch,
    mean_over_ranks,
    shard,
    wrap,
)
from workbench.train.loader import PrefetchLoader
from workbench.train.precision import autocast
from workbench.train.sampler import ClipSampler
from workbench.train.spec import TrainSpec
from workbench.train.weighting import l2_term

#: per-step columns of ``loss.csv``; the last four are the compression module's diagnostics
#: (``RestorationOutput.stats``; empty for models without a quantizer): share of latent elements in the
#: zero bin, mean quantization step q, mean Laplace scale σ, rate in bits per pixel
LOG_FIELDS = ["step", "loss", "l2", "aux", "lr", "noise_sigma_mean", "val_psnr_db",
              "zero_bin_share", "q_mean", "sigma_mean", "bpp"]
STAT_FIELDS = ("zero_bin_share", "q_mean", "sigma_mean", "bpp")


@dataclass
class TrainResult:
    steps: int
    final_loss: float
    model_path: Path
    resumed_from: int
    #: the last logged row of ``loss.csv`` (strings, as written)
    last_log: dict[str, str] = field(default_factory=dict)
    #: auxiliary terms that entered the loss (the model's ``aux`` ∩ the recipe's weights)
    aux_terms: list[str] = field(default_factory=list)
    #: data parallelism of the run (:func:`workbench.train.distributed.describe`) and its BatchNorm rule
    world_size: int = 1
    backend: str = "none"
    batchnorm: str = "none"
    #: arithmetic of the forward pass (``spec.precision``) and the loader's worker processes
    precision: str = "fp32"
    loader_workers: int = 0
    #: ``spec.compile``: the network ran under ``torch.compile``
    compiled: bool = False


def _param_groups(model: RestorationModel, spec: TrainSpec) -> tuple[list[dict[str, Any]], list[nn.Parameter]]:
    """Adam groups: the motion network (``model.spynet``, if any) at ``lr × motion.lr_mult``, the rest at lr."""
    spynet = getattr(model, "spynet", None)
    motion = list(spynet.parameters()) if isinstance(spynet, nn.Module) else []
    ids = {id(p) for p in motion}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups: list[dict[str, Any]] = [{"params": rest, "lr_mult": 1.0, "name": "main"}]
    if motion:
        groups.append({"params": motion, "lr_mult": spec.motion.lr_mult, "name": "motion"})
    return groups, motion


def _aux_loss(out: object, weights: dict[str, float], device: str) -> tuple[torch.Tensor, list[str]]:
    """``Σ w_k · aux_k`` over the terms the model returns; a recipe weight for a term the model does not
    have (a model without a rate) is not applied: the same recipe serves every row of a table."""
    aux = torch.zeros((), device=device)
    used: list[str] = []
    if isinstance(out, RestorationOutput):
        for name, weight in weights.items():
            if name in out.aux:  # fp32 under bf16 autocast too (a no-op cast otherwise)
                aux = aux + weight * out.aux[name].float()
                used.append(name)
    return aux, used


def _stats(out: object) -> dict[str, str]:
    stats = getattr(out, "stats", None) or {}
    return {k: f"{float(stats[k]):.6g}" if k in stats else "" for k in STAT_FIELDS}


def _validate(model: RestorationModel, seqs: list[Sequence], spec: TrainSpec, device: str) -> float:
    values = []
    for seq in seqs[: spec.val_sequences]:
        n = min(len(seq), spec.val_frames)
        if seq.kind == "paired":  # degraded/clean pairs: the sequence's own degradation, no σ

            def degraded(i: int, s: Sequence = seq) -> np.ndarray:
                return split_pair(s.frame(i))[0]

            for t, out in restore_stream(model, degraded, n, device=device):
                values.append(psnr(split_pair(seq.frame(t))[1], np.clip(out, 0, 1)))
            continue
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


def last_log_row(path: Path) -> dict[str, str]:
    """The last row of a ``loss.csv`` (``{}`` if there is none)."""
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return rows[-1] if rows else {}


def _write_log(path: Path, rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_FIELDS)
    w.writeheader()
    w.writerows(rows)
    atomic.write_text(path, buf.getvalue())


def _settle(model: RestorationModel, spec: TrainSpec, sampler: ClipSampler, device: str, out_dir: Path) -> None:
    """Settle BatchNorm over ``spec.settle_bn_batches`` batches drawn as in training, from a generator of
    their own (seed ``spec.seed``), so a resumed run settles identically; recorded in ``batchnorm.txt``."""
    if not spec.settle_bn_batches:
        return
    g = torch.Generator().manual_seed(spec.seed + 0x5E77)

    def draw() -> tuple[torch.Tensor, torch.Tensor | None]:
        noisy, _, level = training_pair(sampler.sample(spec.batch_size, g), spec, g, paired=paired_data(sampler))
        nmap = level_map(spec.noise, level, height=noisy.shape[-2], width=noisy.shape[-1], device=device) \
            if model.uses_noise_map and level is not None else None
        return noisy.to(device), nmap

    layers = settle_batchnorm(model, draw, spec.settle_bn_batches)
    if layers:
        atomic.write_text(out_dir / "batchnorm.txt", f"settled {layers} BatchNorm layers over "
                          f"{spec.settle_bn_batches} batches of {spec.batch_size} (precise BN)\n")


def paired_data(sampler: ClipSampler) -> bool:
    """Whether the training sequences are degraded/clean pairs (``kind == "paired"``, 6-channel frames; see
    :class:`workbench.data.paired.StackedPair`) rather than clean frames that get AWGN here; a mixture is an
    error."""
    kinds = {s.kind for s in sampler.sequences}
    if "paired" in kinds and kinds != {"paired"}:
        raise ConfigError("training data mixes degraded/clean pairs with clean-only sequences; use one kind")
    return kinds == {"paired"}


def training_pair(clean: torch.Tensor, spec: TrainSpec, g: torch.Generator, *, paired: bool
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(degraded, target, level)`` of a batch of clips ``(N, T, C, P, P)``: paired clips (C = 6, deraining
    and dehazing) are split into their degraded and clean halves with no level and nothing drawn; otherwise
    the recipe's ``train.noise`` (:func:`workbench.train.degradation.degrade_batch`)."""
    if paired:
        return clean[:, :, :3], clean[:, :, 3:], None
    return degrade_batch(spec.noise, clean, g, sigma_min=spec.sigma_min, sigma_max=spec.sigma_max,
                         isos=tuple(spec.isos or CRVD_ISOS))


def replay_step_draws(spec: TrainSpec, sampler: ClipSampler) -> Callable[[torch.Generator], None]:
    """What one step of :func:`train` draws from the generator after the clips (σ, then the noise), for
    the loader's look-ahead (:class:`~workbench.train.loader.PrefetchLoader`): the same calls on a zero
    batch of the clips' shape."""
    shape = (spec.batch_size, sampler.clip_frames, sampler.sequences[0].shape[2], spec.patch_size, spec.patch_size)
    paired = paired_data(sampler)

    def replay(g: torch.Generator) -> None:
        training_pair(torch.zeros(shape), spec, g, paired=paired)

    return replay


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
    parallel: DistInfo | None = None,
) -> TrainResult:
    """Train ``model`` in place; ``stop_after`` simulates a kill after that many steps (tests); ``parallel``:
    this process's rank in a data-parallel run (``None``: one process)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = out_dir / "checkpoint.pt", out_dir / "loss.csv"
    clip_frames = model.window if model.temporal_mode == "window" else spec.clip_frames
    sampler = ClipSampler(sequences=train_sequences, clip_frames=clip_frames, patch_size=spec.patch_size,
                          augment=spec.augment)
    paired = paired_data(sampler)
    if paired and model.uses_noise_map:
        raise ConfigError(f"{spec.dataset}: degraded/clean pairs carry no noise σ, but {type(model).__name__} takes a "
                          "noise map; train a blind model on paired data")
    if paired and spec.l2_weighting != "uniform":
        raise ConfigError(f"{spec.dataset}: degraded/clean pairs carry no noise σ to weight by; set "
                          f"train.l2_weighting to uniform (got {spec.l2_weighting})")
    model.to(device).train()
    check_batch(spec.batch_size, parallel)
    bn_rule = batchnorm_rule(model, parallel)
    net: nn.Module = maybe_compile(model if parallel is None else wrap(model, parallel, device), spec.compile)
    main = parallel is None or parallel.is_main
    groups, motion_params = _param_groups(model, spec)
    optim = torch.optim.Adam(groups, lr=spec.lr)
    g = torch.Generator().manual_seed(spec.seed)
    spec_key = config_hash(replace(spec, loader_workers=0))  # workers do not change what is trained
    step = 0
    if ckpt_path.exists():
        if not resume:
            raise ConfigError(f"{ckpt_path}: a checkpoint exists; pass --resume to continue or choose another --out")
        state = read_training_state(ckpt_path, spec_hash=spec_key)
        step = restore_training_state(state, model=model, optimizer=optim, source=str(ckpt_path))
        g.set_state(state["rng"])
    resumed_from = step
    log_rows = _read_log(log_path, step)
    total = spec.steps
    last_loss = math.nan
    aux_terms: set[str] = set()

    def save_checkpoint() -> None:
        if not main:
            return
        # the log first: a kill between the two writes resumes from the previous checkpoint and drops the
        # log rows past it (_read_log), instead of resuming past a step whose row was never written
        _write_log(log_path, log_rows)
        save_training_state(ckpt_path, model=model, optimizer=optim, step=step, rng=g.get_state(),
                            spec_hash=spec_key)

    loader = None
    if spec.loader_workers and step < total:  # worker processes decode the coming steps' clips
        loader = PrefetchLoader(sampler=sampler, batch=spec.batch_size, workers=spec.loader_workers, g=g,
                                steps=total - step, replay=replay_step_draws(spec, sampler),
                                pin_memory=torch.device(device).type == "cuda")
    bar = tqdm(total=total, initial=step, disable=not (progress and main), desc=out_dir.name, leave=False,
               mininterval=2.0)
    while step < total:
        lr = spec.lr_at(step)
        for group in optim.param_groups:
            group["lr"] = lr * group["lr_mult"]
        frozen = spec.motion_frozen_at(step)
        for prm in motion_params:
            prm.requires_grad_(not frozen)
        clean = loader.sample(spec.batch_size, g) if loader is not None else sampler.sample(spec.batch_size, g)
        noisy, clean, sigma = training_pair(clean, spec, g, paired=paired)  # sigma: σ, raw [a_n, b_n], or None (pairs)
        clean, noisy = shard(clean.to(device), parallel), shard(noisy.to(device), parallel)
        sigma = shard(sigma, parallel) if sigma is not None else None
        nmap = level_map(spec.noise, sigma, height=clean.shape[-2], width=clean.shape[-1], device=device) \
            if model.uses_noise_map and sigma is not None else None
        with autocast(spec.precision, device):
            out = net(noisy, nmap)
        frames = out.frames if isinstance(out, RestorationOutput) else out
        target = clean[:, clean.shape[1] // 2] if model.temporal_mode == "window" else clean
        l2 = l2_term(frames, target, sigma if spec.noise == "awgn" else None, weighting=spec.l2_weighting,
                     sigma_min=spec.sigma_min, sigma_max=spec.sigma_max)  # fp32 under bf16 autocast too
        aux, used = _aux_loss(out, spec.aux_weights_at(step), device)
        aux_terms.update(used)
        loss = l2 + aux
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if spec.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
        optim.step()
        step += 1
        if parallel is not None:
            loss, l2, aux = mean_over_ranks(torch.stack([loss.detach(), l2.detach(), aux.detach()]), parallel)
        last_loss = float(loss.detach())
        if not math.isfinite(last_loss):
            raise TrainingError(f"{out_dir}: loss is {last_loss} at step {step}; lower lr or set grad_clip "
                                "(the last good checkpoint is kept)")
        bar.update(1)
        if step % spec.log_every == 0 or step == total:
            row = {"step": str(step), "loss": f"{last_loss:.6g}", "l2": f"{float(l2.detach()):.6g}",
                   "aux": f"{float(aux.detach()):.6g}", "lr": f"{lr:.3g}",
                   "noise_sigma_mean": f"{log_level(spec.noise, sigma):.3f}" if sigma is not None else "",
                   "val_psnr_db": "", **_stats(out)}
            if main and spec.val_every and val_sequences and (step % spec.val_every == 0 or step == total):
                row["val_psnr_db"] = f"{_validate(model, val_sequences, spec, device):.3f}"
            log_rows.append(row)
            bar.set_postfix(loss=f"{last_loss:.4g}")
        if step % spec.checkpoint_every == 0 or step == total:
            save_checkpoint()
        if stop_after is not None and step >= stop_after:
            break
    bar.close()
    if loader is not None:
        loader.close()
    model_path = out_dir / "model.pt"
    for prm in motion_params:
        prm.requires_grad_(True)
    if step >= total and main:
        _settle(model, spec, sampler, device, out_dir)
        save_weights(model_path, model)
    barrier(parallel)  # every rank returns once rank 0 has published the final weights
    return TrainResult(steps=step, final_loss=last_loss, model_path=model_path, resumed_from=resumed_from,
                       last_log=log_rows[-1] if log_rows else {}, aux_terms=sorted(aux_terms),
                       world_size=parallel.world_size if parallel else 1,
                       backend=parallel.backend if parallel else "none", batchnorm=bn_rule,
                       precision=spec.precision, loader_workers=spec.loader_workers, compiled=spec.compile)
