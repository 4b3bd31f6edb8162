"""Data-parallel setup for training under ``torchrun`` (or a SLURM job's tasks): one process per device.

A run is distributed when the launcher's environment says so (``WORLD_SIZE`` > 1, set by ``torchrun`` and by
:func:`workbench.pipeline.executors.export_rank_env` inside a multi-task submitit job); otherwise
:func:`from_env` returns ``None`` and the training loop takes its single-process path unchanged.

Backend: ``nccl`` for CUDA devices (each rank on ``cuda:<LOCAL_RANK>``), ``gloo`` on CPU.

The data rule (:func:`shard`): every rank draws the **whole** global batch of ``batch_size`` clips from the one
seeded generator, exactly as a single process does, and keeps clips ``rank::world_size`` of it
(``batch_size`` must be divisible by the world size). Shares are equal, so DDP's gradient average equals the
gradient of the mean loss over the global batch, and the generator state is the same on every rank after
every step: a checkpoint written by rank 0 resumes under any world size that divides ``batch_size``.

BatchNorm: on CUDA the model's BatchNorm layers become :class:`torch.nn.SyncBatchNorm` (statistics over the
global batch, as in one process). ``SyncBatchNorm`` runs on GPU inputs only (torch 2.13), so on CPU (gloo)
BatchNorm keeps per-rank batch statistics; the rule used is recorded (:func:`batchnorm_rule`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from workbench.errors import ConfigError

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass(frozen=True)
class DistInfo:
    """This process's place in a data-parallel run."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, logs and final weights; the others only compute."""
        return self.rank == 0


def world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def backend_for(device: str) -> str:
    return "nccl" if device.startswith("cuda") else "gloo"


def from_env(device: str) -> DistInfo | None:
    """Join the process group described by torchrun's variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``); ``None`` when the world size is 1 (the single-process path)."""
    world = world_size_from_env()
    if world <= 1:
        return None
    backend = backend_for(device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, backend=backend)


def rank_device(device: str, info: DistInfo | None) -> str:
    """``cuda`` → ``cuda:<local rank>`` in a distributed run; anything else unchanged."""
    if info is not None and device in ("cuda", "cuda:0") and info.backend == "nccl":
        return f"cuda:{info.local_rank}"
    return device


def check_batch(batch_size: int, info: DistInfo | None) -> None:
    if info is not None and batch_size % info.world_size:
        raise ConfigError(f"batch_size {batch_size} is not divisible by the world size {info.world_size}; "
                          "choose a batch size that is a multiple of --nproc-per-node (× nodes)")


def shard(x: torch.Tensor, info: DistInfo | None) -> torch.Tensor:
    """This rank's share ``x[rank::world_size]`` of a global batch (all of it when not distributed)."""
    return x if info is None else x[info.rank :: info.world_size]


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, _BN) for m in model.modules())


def batchnorm_rule(model: nn.Module, info: DistInfo | None) -> str:
    """``none`` (no BatchNorm or one process), ``sync`` (SyncBatchNorm, NCCL) or ``per-rank`` (gloo on CPU)."""
    if info is None or not has_batchnorm(model):
        return "none"
    return "sync" if info.backend == "nccl" else "per-rank"


def wrap(model: nn.Module, info: DistInfo, device: str) -> nn.Module:
    """DistributedDataParallel around ``model`` (BatchNorm synchronised on CUDA, see the module docstring).
    ``find_unused_parameters``: a frozen motion network and optional branches leave parameters without a
    gradient in some steps."""
    if batchnorm_rule(model, info) == "sync":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [torch.device(device).index] if info.backend == "nccl" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def mean_over_ranks(values: torch.Tensor, info: DistInfo | None) -> torch.Tensor:
    """The mean of a (detached) tensor over ranks: the logged loss is the global batch's loss."""
    if info is None:
        return values
    out = values.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / info.world_size


def barrier(info: DistInfo | None) -> None:
    if info is not None:
        dist.barrier()


def shutdown(info: DistInfo | None) -> None:
    if info is not None and dist.is_initialized():
        dist.destroy_process_group()


def describe(info: DistInfo | None) -> dict[str, object]:
    """What the manifest records about the run's parallelism."""
    if info is None:
        return {"world_size": 1, "backend": "none"}
    return {"world_size": info.world_size, "backend": info.backend}
