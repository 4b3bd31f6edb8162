"""The learned codec of Fig. 2 in the committed zoo: ``results/zoo/<profile>/codecs/<entry>/``.

The ``fig2`` cell of a profile with ``zoo: true`` (the ``mini`` profile) takes its hyperprior codecs (one per
λ, :class:`workbench.codec.learned.HyperpriorCodec`) from the zoo instead of training them in the run, so
the study's learned curve is the committed network on every processor (trained in each run it moved up to
3.9 dB at single rate points between two processors, README). Layout::

    codecs/hyperprior-<args8>-s<seed>/lambda<λ>.pt   weights of one rate point (the zoo's storage rule:
                                                     float16 for floating tensors of ≥ 1024 elements)
                                     /manifest.json  config and its hash, code commit, training-data
                                                     checksums (``shared/train-inputs/``), steps and final
                                                     losses per λ, wall time, device, torch version
                                     /loss.csv       the training logs (lambda, step, loss, mse, bpp)

``<args8>`` hashes the architecture and the λ set; the **config hash** covers every λ's training settings
(:class:`workbench.codec.train.TrainSettings`), the fine-tuning chain, the training set's name, frame limit
and checksums. A cell whose config no longer matches (or whose files no longer load strictly) trains the
codecs in its run, says so on stderr (``ZOO WARNING``) and files the new entry; with ``retrain`` the cell
trains from scratch and the zoo is not touched. Either way the trained codecs are rounded to the storage
precision before they code anything, so a run that trains measures the network the zoo then serves.
Entries live one level below the restoration entries, so :func:`workbench.pipeline.zoo.entries` does not
list them; :func:`entries` here does.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from workbench import provenance
from workbench.checkpoint import load_strict, read_state_dict, read_training_state, save_state_dict_compressed
from workbench.codec.learned import HyperpriorCodec
from workbench.config import config_hash
from workbench.context import RunContext
from workbench.errors import CheckpointError
from workbench.evaluate.fig2 import Fig2Params, train_here
from workbench.pipeline import zoo

CODECS = "codecs"
LOSS_COLUMNS = ("lambda", "step", "loss", "mse", "bpp")


def rate_file(lam: float) -> str:
    """The weights file of rate point ``lam`` in an entry."""
    return f"lambda{lam:g}.pt"


def train_inputs(p: Fig2Params, ctx: RunContext) -> dict[str, str]:
    """The codec's training data ``{file: sha256}`` among the cell's input checksums."""
    return {k: v for k, v in ctx.input_checksums.items() if k.startswith(p.train_dataset + "/")}


def identity(p: Fig2Params, inputs: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The cell's entry name and the config whose hash the entry must carry (``inputs``: training data)."""
    args = {"codec": "hyperprior", "n": p.n_channels, "m": p.m_channels, "lambdas": sorted(p.lambdas)}
    config = {
        "codec": "hyperprior",
        "rate_points": [{"settings": asdict(s), "init_lambda": init} for s, init in p.train_settings()],
        "train_dataset": p.train_dataset,
        "train_max_frames": p.train_max_frames,
        "train_data_sha256": zoo.data_digest(inputs),
    }
    return f"hyperprior-{config_hash(args)[:8]}-s{p.seed}", config


def load(p: Fig2Params, folder: Path) -> dict[float, HyperpriorCodec]:
    """The codecs of entry ``folder`` by λ, loaded strictly (eval mode)."""
    models: dict[float, HyperpriorCodec] = {}
    for settings, _ in p.train_settings():
        model = HyperpriorCodec(n=settings.n, m=settings.m)
        path = folder / rate_file(settings.lam)
        load_strict(model, read_state_dict(path), source=str(path))
        models[settings.lam] = model.eval()
    return models


def _from_zoo(p: Fig2Params, ctx: RunContext, name: str,
              config: dict[str, Any]) -> tuple[dict[float, HyperpriorCodec], dict[str, Any]] | None:
    """The entry's codecs and the cell's training notes; ``None`` (after a loud warning) when they must train."""
    assert ctx.zoo_dir is not None
    folder = ctx.zoo_dir / CODECS / name
    try:
        manifest = json.loads((folder / zoo.MANIFEST).read_text())
    except (OSError, ValueError):
        zoo.warn(f"{folder}: not in the zoo; training the learned codec ({ctx.spec_id}/{ctx.cell_name})")
        return None
    if manifest.get("config_hash") != config_hash(config):
        zoo.warn(f"{folder}: config hash {str(manifest.get('config_hash', '?'))[:16]} no longer matches "
                 f"{config_hash(config)[:16]} (training settings or data changed); retraining the learned codec")
        return None
    try:
        models = load(p, folder)
    except (CheckpointError, OSError, RuntimeError) as exc:
        zoo.warn(f"{exc} — the code no longer matches the zoo entry; retraining the learned codec")
        return None
    notes = {f"lambda={lam:g}": {**manifest["rate_points"].get(f"{lam:g}", {}), "reused_training": "zoo",
                                 "zoo_entry": f"{CODECS}/{name}", "zoo_config_hash": manifest["config_hash"],
                                 "zoo_code_commit": manifest.get("code_commit")} for lam in models}
    return models, notes


def _history(ctx: RunContext, summary: dict[str, Any]) -> list[list[float]]:
    state = read_training_state(ctx.work_dir / "learned" / summary["checkpoint"])
    return [list(map(float, row)) for row in state.get("history", [])]


def _loss_csv(logs: dict[float, list[list[float]]]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(LOSS_COLUMNS)
    for lam, rows in sorted(logs.items(), reverse=True):
        out.writerows([f"{lam:g}", int(r[0]), *r[1:4]] for r in rows)
    return buf.getvalue()


def publish(zoo_dir: Path, name: str, config: dict[str, Any], *, models: dict[float, HyperpriorCodec],
            summaries: dict[str, Any], logs: dict[float, list[list[float]]], inputs: dict[str, str],
            device: str) -> Path:
    """Write entry ``name`` (replacing an older one of that name) from codecs trained and rounded here."""
    root = zoo_dir / CODECS
    tmp = root / f".{name}.new"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    storage: dict[str, Any] = {}
    for lam, model in models.items():
        state, storage = zoo.storage_state({k: v.detach().cpu() for k, v in model.state_dict().items()})
        save_state_dict_compressed(tmp / rate_file(lam), state)
    (tmp / "loss.csv").write_text(_loss_csv(logs))
    git = zoo.code_at_start()
    rate_points = {f"{lam:g}": {k: summaries[f"lambda={lam:g}"].get(k) for k in
                                ("steps", "train_seconds", "loss_last50", "mse_last50", "bpp_last50", "init")}
                   for lam in models}
    manifest = {
        "entry": f"{CODECS}/{name}", "kind": "codec", "config": config, "config_hash": config_hash(config),
        "code_commit": git.get("git_commit"), "code_dirty": git.get("git_dirty"), "code_hash": git.get("code_hash"),
        "train_data_sha256": config["train_data_sha256"],
        "train_inputs_file": zoo.write_train_inputs(zoo_dir, inputs, config["train_data_sha256"]),
        "storage": storage, "rate_points": rate_points,
        "steps": sum(int(r["steps"] or 0) for r in rate_points.values()),
        "wall_s": round(sum(float(r["train_seconds"] or 0.0) for r in rate_points.values()), 1),
        "device": provenance.device_info(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "params": int(sum(p.numel() for p in next(iter(models.values())).parameters())),
    }
    (tmp / zoo.MANIFEST).write_text(json.dumps(provenance.portable(manifest), indent=1, sort_keys=True) + "\n")
    return zoo.swap_in(tmp, root / name)


def trainer(p: Fig2Params, ctx: RunContext) -> tuple[dict[float, HyperpriorCodec], dict[str, Any]]:
    """The :data:`~workbench.evaluate.fig2.Trainer` of a zoo profile: the zoo's codecs when the entry matches
    (and not ``ctx.retrain``), else trained here (:func:`~workbench.evaluate.fig2.train_here`), rounded to
    the zoo's storage and, unless retraining, filed in the zoo."""
    assert ctx.zoo_dir is not None
    inputs = train_inputs(p, ctx)
    name, config = identity(p, inputs)
    if not ctx.retrain:
        found = _from_zoo(p, ctx, name, config)
        if found is not None:
            return found
    models, summaries = train_here(p, ctx)
    for model in models.values():
        zoo.round_state(model)
    if not ctx.retrain:
        logs = {lam: _history(ctx, summaries[f"lambda={lam:g}"]) for lam in models}
        folder = publish(ctx.zoo_dir, name, config, models=models, summaries=summaries, logs=logs, inputs=inputs,
                         device=ctx.device)
        for lam in models:
            summaries[f"lambda={lam:g}"]["zoo_entry"] = f"{CODECS}/{folder.name}"
    return models, summaries


def entries(zoo_dir: Path) -> list[dict[str, Any]]:
    """Every codec entry's manifest (sorted by name)."""
    return [json.loads(p.read_text()) for p in sorted((zoo_dir / CODECS).glob(f"*/{zoo.MANIFEST}"))]


__all__ = ["CODECS", "entries", "identity", "load", "publish", "rate_file", "train_inputs", "trainer"]
