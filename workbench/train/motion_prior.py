"""The SPyNet pretrained here: trained once per recipe, cached, reused by every model that needs motion.

``pretrained_spynet()`` returns ``cache_root()/spynet/<key>/spynet.pth`` (BasicSR layout
``{"params": state_dict}``, for :func:`workbench.models.spynet.load_spynet`) with ``report.json`` beside it
(:func:`workbench.train.spynet_pretrain.pretrain_spynet`'s report: held-out EPE before and after training
and of zero flow, at each σ, steps, seed, wall seconds, torch version, recipe). It trains on first use and
reuses the files afterwards. ``<key>`` hashes the recipe, the device type, the source of the modules that
determine the weights and the sha256 lists of the embedded data manifests, so a change to any of them
trains a new prior beside the old one. Both files are written atomically, weights first: a folder with a
report always holds complete weights, and a killed run leaves no half file.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from workbench import atomic
from workbench.data import embedded, motion
from workbench.errors import CheckpointError
from workbench.models import spynet, warp
from workbench.paths import cache_root
from workbench.train import spynet_pretrain
from workbench.train.spynet_pretrain import SpynetRecipe, pretrain_spynet

WEIGHTS = "spynet.pth"
REPORT = "report.json"
#: modules whose source determines the weights (the embedded data enter through their manifests)
SOURCES: tuple[ModuleType, ...] = (spynet, warp, motion, spynet_pretrain)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(recipe: SpynetRecipe, *, device: str = "cpu") -> str:
    """16 hex digits of sha256 over the recipe, the device type, the modules' source and the manifests."""
    parts: dict[str, Any] = {
        "recipe": asdict(recipe),
        "device": torch.device(device).type,
        "sources": {m.__name__: _sha256(inspect.getsource(m)) for m in SOURCES},
        "data": {s: _sha256(json.dumps(embedded.manifest_checksums(s), sort_keys=True))
                 for s in (recipe.train_split, recipe.eval_split)},
    }
    return _sha256(json.dumps(parts, sort_keys=True))[:16]


def prior_dir(recipe: SpynetRecipe | None = None, *, device: str = "cpu") -> Path:
    """``cache_root()/spynet/<key>``: the folder of the prior trained by ``recipe`` (default recipe)."""
    return cache_root() / "spynet" / cache_key(recipe or SpynetRecipe(), device=device)


def pretrained_spynet(*, device: str = "cpu", progress: bool = False, force: bool = False,
                      recipe: SpynetRecipe | None = None) -> Path:
    """Path of the cached pretrained SPyNet weights; trains them first if absent (or ``force``)."""
    folder = prior_dir(recipe, device=device)
    weights, report = folder / WEIGHTS, folder / REPORT
    if force or not (weights.is_file() and report.is_file()):
        result = pretrain_spynet(recipe, out=weights, device=device, progress=progress)
        result["cache_key"] = folder.name
        atomic.write_text(report, json.dumps(result, indent=1, sort_keys=True) + "\n")
    return weights


def read_report(weights: Path | None = None) -> dict[str, Any]:
    """The ``report.json`` beside ``weights`` (default: the default recipe's prior, which must exist)."""
    path = (weights.parent if weights is not None else prior_dir()) / REPORT
    if not path.is_file():
        raise CheckpointError(f"{path}: no SPyNet prior report; run `workbench pretrain spynet` to train it")
    report: dict[str, Any] = json.loads(path.read_text())
    return report
