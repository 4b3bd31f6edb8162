"""``workbench train --config run.yaml``: one YAML fully describes one training run.

The run folder (default :func:`train_run_dir`) keeps ``config.yaml`` (resolved, after ``--set``
overrides), ``command.txt``, ``provenance.json``, ``loss.csv``, ``checkpoint.pt`` and ``model.pt``.

Under ``torchrun --nproc-per-node N workbench train ...`` (or ``python -m workbench.cli``) the run is
data-parallel (:mod:`workbench.train.distributed`); rank 0 writes the folder and ``provenance.json`` records
``distributed``: world size, backend and the BatchNorm rule.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench import atomic, provenance
from workbench.config import apply_overrides, config_hash, from_mapping, load_yaml, to_mapping
from workbench.data.catalog import open_dataset
from workbench.errors import ConfigError
from workbench.paths import runs_root
from workbench.train.distributed import batchnorm_rule, describe, from_env, rank_device, shutdown
from workbench.train.loop import train
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model


def train_run_dir(model_id: str, key: str) -> Path:
    """The folder of one training run: ``runs/train/<model id>-<first 16 hex digits of its key>``.

    Both ``workbench train`` (key: hash of the resolved config) and the pipeline's restoration cells
    (key: :func:`workbench.pipeline.restoration.train_dir`) name their runs this way."""
    return runs_root() / "train" / f"{model_id}-{key[:16]}"


@dataclass
class TrainRunConfig:
    model: str
    train: TrainSpec
    model_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


def load_train_config(path: Path, overrides: list[str]) -> TrainRunConfig:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    apply_overrides(data, overrides)
    return from_mapping(TrainRunConfig, data, where=str(path))


def train_from_config(path: Path, *, overrides: list[str], out_dir: Path | None, resume: bool, device: str,
                      data_root: str | None) -> Path:
    cfg = load_train_config(path, overrides)
    out_dir = out_dir or train_run_dir(cfg.model, config_hash(cfg))
    model = build_model(cfg.model, cfg.model_args, seed=cfg.seed, where=str(path))
    root = Path(data_root) if data_root else None
    train_seqs = open_dataset(cfg.train.dataset, root=root, max_frames=cfg.train.max_frames_per_sequence)
    val_seqs = open_dataset(cfg.train.val_dataset, root=root, max_frames=cfg.train.val_frames)
    parallel = from_env(device)
    device = rank_device(device, parallel)
    if parallel is None or parallel.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out_dir / "config.yaml", yaml.safe_dump(to_mapping(cfg), sort_keys=False))
        atomic.write_text(out_dir / "command.txt", shlex.join(sys.argv) + "\n")
        prov = {**provenance.collect(device),
                "distributed": {**describe(parallel), "batchnorm": batchnorm_rule(model, parallel)}}
        atomic.write_text(out_dir / "provenance.json", json.dumps(prov, indent=2, default=str))
    try:
        train(model=model, spec=cfg.train, train_sequences=train_seqs, val_sequences=val_seqs, out_dir=out_dir,
              resume=resume, device=device, progress=sys.stderr.isatty(), parallel=parallel)
    finally:
        shutdown(parallel)
    return out_dir
