"""The committed model zoo: trained checkpoints of a profile, each with a manifest (``results/zoo/<profile>``).

A profile with ``zoo: true`` (the ``mini`` profile) serves its trained rows from the zoo instead of training
them. Layout (documented in ``results/zoo/README.md``)::

    results/zoo/<profile>/<model>-<args8>-s<seed>/model.pt      weights (shared parts left out, see below)
                                                 /manifest.json  model id, resolved config and its hash,
                                                                 code commit, data checksums, steps, final
                                                                 losses, wall time, device, torch version
                                                                 /loss.csv       the training log
    results/zoo/<profile>/shared/spynet-<key>/spynet.pth, report.json            the frozen motion prior
    results/zoo/<profile>/shared/train-inputs/<sha16>.json                        {file: sha256} of a training set

Storage (``storage`` in the manifest): floating tensors of at least :data:`FP16_MIN_NUMEL` elements (the
convolution and linear weights) are stored as float16, smaller ones (biases, normalisation and entropy-model
parameters) and every integer buffer as they are; loading casts back to the model's dtype, so the committed
checkpoint *is* the fp16-rounded network and every PSNR the zoo serves is measured on it. This halves the zoo
(the repository's 40 MB budget). The training set's per-file checksums are stored once per set in
``shared/train-inputs/`` (named by :func:`data_digest`), the manifest naming that file.

An entry is named by the model's identity (model id, a hash of its arguments, seed), so one trained model
serves every table row that uses it. Its **config hash** covers what determines the weights: model id,
arguments, seed, the resolved training recipe and the training data's checksums (not the code hash: code
that changes the weights shows as a strict-load failure or a different PSNR in the retrain check, and the
manifest records the commit). Lookup (:func:`find`) says ``match``, ``stale`` (the identity is there with
another config hash: it is retrained, loudly) or ``absent``.

Shared weights: a model whose motion network stays frozen for the whole recipe (``motion.frozen_until:
1``) carries the prior's weights unchanged; the entry leaves the ``spynet.*`` tensors out and names the
shared prior instead (sha256 checked on load), so the zoo stores that network once. Loading is strict over
the union: every parameter and buffer comes from exactly one of the two files.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench import atomic, provenance
from workbench.checkpoint import load_strict, read_state_dict, save_state_dict_compressed
from workbench.config import config_hash, to_mapping
from workbench.errors import CheckpointError
from workbench.models.spynet import SPyNet, load_spynet
from workbench.paths import results_root
from workbench.train.motion_prior import REPORT, WEIGHTS, pretrained_spynet, prior_dir

MANIFEST = "manifest.json"
SHARED = "shared"
SPYNET_PREFIX = "spynet."
TRAIN_INPUTS = "train-inputs"
FP16_MIN_NUMEL = 1024  # floating tensors this large are stored as float16 (module docstring)


@dataclass(frozen=True)
class ZooHit:
    """Result of :func:`find`: ``status`` is ``match``, ``stale`` or ``absent``; ``folder`` the entry's."""

    status: str
    folder: Path
    manifest: dict[str, Any]


@functools.lru_cache(maxsize=1)
def code_at_start() -> dict[str, object]:
    """The checkout's git commit and dirty flag when this process first asked (the runner asks before any
    cell runs), so an entry published hours later names the code the process imported, not a later HEAD."""
    return {**provenance.git_info(), "code_hash": provenance.code_hash()}


def zoo_root(profile: str, root: Path | None = None) -> Path:
    """``<results root>/zoo/<profile>``."""
    return (root or results_root()) / "zoo" / profile


def entry_name(model: str, model_args: dict[str, Any], seed: int, task: str = "") -> str:
    """``<model>-<8 hex digits of the arguments' hash>[-<task>]-s<seed>`` (``:`` of plugin ids becomes ``-``).

    ``task`` names the degradation a model was trained for when it is not AWGN on clean frames (see
    :func:`training_task`), so a deraining NCFL and a denoising NCFL of the same arguments are two entries."""
    tag = f"-{task}" if task else ""
    return f"{model.replace(':', '-')}-{config_hash(model_args)[:8]}{tag}-s{seed}"


def training_task(dataset: str, *, noise: str, paired: bool) -> str:
    """The entry-name tag of a training set: ``""`` for AWGN added to clean frames (the denoising tables),
    else the dataset's name without ``embedded-mini-``/``embedded-`` and ``-train`` (``embedded-mini-raw-train``
    → ``raw``, ``embedded-mini-haze-train`` → ``haze``)."""
    if noise == "awgn" and not paired:
        return ""
    return dataset.removeprefix("embedded-mini-").removeprefix("embedded-").removesuffix("-train")


def data_digest(train_inputs: dict[str, str]) -> str:
    """One sha256 over the sorted ``{file: sha256}`` map of the training data."""
    return hashlib.sha256(json.dumps(train_inputs, sort_keys=True).encode()).hexdigest()


def zoo_config(*, model: str, model_args: dict[str, Any], seed: int, train: Any, data: str) -> dict[str, Any]:
    """The mapping whose hash is an entry's config hash (see the module docstring)."""
    return {"model": model, "model_args": model_args, "seed": seed, "train": to_mapping(train),
            "train_data_sha256": data}


def find(zoo_dir: Path, name: str, config: dict[str, Any]) -> ZooHit:
    folder = zoo_dir / name
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return ZooHit("absent", folder, {})
    if not (folder / "model.pt").is_file():
        return ZooHit("absent", folder, {})
    status = "match" if manifest.get("config_hash") == config_hash(config) else "stale"
    return ZooHit(status, folder, manifest)


@contextlib.contextmanager
def entry_threads(manifest: dict[str, Any]) -> Iterator[int]:
    """Run the block with the torch thread count the entry was trained with (its manifest's ``threads``;
    unchanged when absent), restored afterwards. The order of floating-point reductions, and so the last
    bits of every training step, depend on it: a retraining meant to match an entry uses its count."""
    before = torch.get_num_threads()
    wanted = int(manifest.get("threads") or before)
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(before)


def warn(message: str) -> None:
    """A zoo problem is said loudly: on stderr, whatever the log level (``-q`` included)."""
    print(f"ZOO WARNING: {message}", file=sys.stderr, flush=True)


def _shared_spynet(zoo_dir: Path, manifest: dict[str, Any]) -> Path | None:
    shared = manifest.get("shared", {}).get("spynet")
    if not shared:
        return None
    path = zoo_dir / shared["file"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
    if digest != shared["sha256"]:
        raise CheckpointError(f"{path}: shared SPyNet of the zoo is {digest}, the entry names "
                              f"{shared['sha256'][:16]}; restore it from git (git checkout -- {path})")
    return path


def load_entry(model: nn.Module, hit: ZooHit, zoo_dir: Path) -> None:
    """Load an entry into ``model`` strictly (its own tensors plus the shared SPyNet it names)."""
    state = read_state_dict(hit.folder / "model.pt")
    spynet_path = _shared_spynet(zoo_dir, hit.manifest)
    if spynet_path is not None:
        shared = load_spynet(spynet_path).state_dict()
        overlap = [k for k in state if k.startswith(SPYNET_PREFIX)]
        if overlap:
            raise CheckpointError(f"{hit.folder / 'model.pt'}: holds {overlap[0]} and also names a shared SPyNet")
        state.update({SPYNET_PREFIX + k: v for k, v in shared.items()})
    load_strict(model, state, source=str(hit.folder / "model.pt"))


def _frozen_spynet(model: nn.Module, train: Any) -> SPyNet | None:
    spynet = getattr(model, "spynet", None)
    if isinstance(spynet, SPyNet) and train.motion.frozen_until >= 1.0 and train.motion.init != "none":
        return spynet
    return None


def _publish_prior(zoo_dir: Path, spynet: SPyNet, motion_init: Path) -> dict[str, str]:
    """Copy the motion prior into ``shared/`` once; check the model's frozen copy is exactly it."""
    prior = load_spynet(motion_init).state_dict()
    mine = spynet.state_dict()
    if set(prior) != set(mine) or any(not torch.equal(prior[k], mine[k]) for k in prior):
        raise CheckpointError(f"{motion_init}: the trained model's SPyNet differs from the prior it was frozen "
                              "at; the zoo cannot share it (was motion.frozen_until < 1?)")
    rel = f"{SHARED}/spynet-{motion_init.parent.name}"
    folder = zoo_dir / rel
    if not (folder / WEIGHTS).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(folder / REPORT, (motion_init.parent / REPORT).read_bytes())
        atomic.write_bytes(folder / WEIGHTS, motion_init.read_bytes())
    return {"file": f"{rel}/{WEIGHTS}", "sha256": hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()}


def install_prior(zoo_dir: Path) -> list[Path]:
    """Put the zoo's shared SPyNet priors where :func:`workbench.train.motion_prior.pretrained_spynet`
    looks (``cache_root()/spynet/<key>``) when that folder is empty, so evaluating the zoo does not
    retrain the prior; returns the folders filled."""
    filled = []
    for folder in sorted((zoo_dir / SHARED).glob("spynet-*")):
        target = prior_dir().parent / folder.name.removeprefix("spynet-")
        if (target / WEIGHTS).is_file() or not (folder / WEIGHTS).is_file():
            continue
        target.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(target / WEIGHTS, (folder / WEIGHTS).read_bytes())
        atomic.write_bytes(target / REPORT, (folder / REPORT).read_bytes())
        filled.append(target)
    return filled


def holds_current_prior(zoo_dir: Path) -> bool:
    """Whether the zoo's ``shared/`` holds the prior under the key the current code computes
    (:func:`workbench.train.motion_prior.cache_key`); when it does not, evaluating the zoo trains the
    prior first (about 4 min on one thread) although every entry loads the zoo's own copy."""
    return (zoo_dir / SHARED / f"spynet-{prior_dir().name}" / WEIGHTS).is_file()


def rekey_prior(zoo_dir: Path) -> str:
    """Give the zoo's motion prior the current code's cache key; returns what was done, in words.

    The prior is trained under the current code (or taken from the cache). When its weights are
    byte-identical to a prior the zoo holds (a source change that did not change the weights), it is added
    under the new key and :func:`compact` keeps that one copy, pointing every entry at it; the entries and
    their config hashes are unchanged. Different weights are refused: the zoo's entries were trained with
    the other prior, so they must be retrained (``workbench reproduce --profile <p> --retrain``)."""
    folder = zoo_dir / SHARED / f"spynet-{prior_dir().name}"
    if (folder / WEIGHTS).is_file():
        return f"{folder}: the zoo already holds the current code's prior"
    fresh = pretrained_spynet()
    digest = hashlib.sha256(fresh.read_bytes()).hexdigest()
    held = {hashlib.sha256((f / WEIGHTS).read_bytes()).hexdigest(): f
            for f in sorted((zoo_dir / SHARED).glob("spynet-*")) if (f / WEIGHTS).is_file()}
    if digest not in held:
        raise CheckpointError(f"{fresh}: the prior the current code trains (sha256 {digest[:16]}) differs from "
                              f"every prior in {zoo_dir / SHARED}; its entries were trained with another prior: "
                              "retrain them (workbench reproduce --retrain)")
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(folder / REPORT, (fresh.parent / REPORT).read_bytes())
    atomic.write_bytes(folder / WEIGHTS, fresh.read_bytes())
    changed = compact(zoo_dir)
    return (f"{folder}: the current code's prior is byte-identical to {held[digest].name}; kept once under "
            f"the new key, {len(changed)} entries now name it")


def _halved(v: torch.Tensor) -> bool:
    """Whether the zoo stores ``v`` as float16 (a floating tensor of ≥ :data:`FP16_MIN_NUMEL` elements)."""
    return v.is_floating_point() and v.dtype != torch.float16 and v.numel() >= FP16_MIN_NUMEL


def storage_state(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict as the zoo stores it: floating tensors of ≥ :data:`FP16_MIN_NUMEL` elements as float16,
    the rest unchanged; and the manifest's ``storage`` record (rule and counts)."""
    out = {k: v.to(torch.float16) if _halved(v) else v for k, v in state.items()}
    halved = sum(_halved(v) for v in state.values())
    return out, {"float16_min_numel": FP16_MIN_NUMEL, "float16_tensors": halved, "tensors": len(state)}


def round_to_storage(model: nn.Module, train: Any) -> None:
    """Round ``model``'s state in place to what :func:`publish` stores (float16 for large tensors); a frozen
    SPyNet that the entry shares from ``shared/`` is stored as the prior is, so it stays untouched."""
    round_state(model, skip=SPYNET_PREFIX if _frozen_spynet(model, train) is not None else None)


def round_state(model: nn.Module, *, skip: str | None = None) -> None:
    """Round ``model``'s state in place to the zoo's storage (:func:`storage_state`: float16 for floating
    tensors of ≥ :data:`FP16_MIN_NUMEL` elements), leaving the tensors whose names start with ``skip``."""
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if _halved(v) and not (skip and k.startswith(skip)):
                v.copy_(v.to(torch.float16))


def write_train_inputs(zoo_dir: Path, train_inputs: dict[str, str], digest: str) -> str:
    """Store a training set's ``{file: sha256}`` once, under ``shared/train-inputs/``; its path in the zoo."""
    if data_digest(train_inputs) != digest:
        raise CheckpointError(f"{zoo_dir}: the training inputs do not hash to the entry's train_data_sha256 "
                              f"{digest[:16]}; the manifest would not name its data")
    rel = f"{SHARED}/{TRAIN_INPUTS}/{digest[:16]}.json"
    if not (zoo_dir / rel).is_file():
        (zoo_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(zoo_dir / rel, (json.dumps(train_inputs, indent=0, sort_keys=True) + "\n").encode())
    return rel


def read_train_inputs(zoo_dir: Path, manifest: dict[str, Any]) -> dict[str, str]:
    """The entry's training data, ``{file: sha256}`` (from its shared file, or inline in an older manifest)."""
    if "train_inputs_file" in manifest:
        data: dict[str, str] = json.loads((zoo_dir / manifest["train_inputs_file"]).read_text())
        return data
    return dict(manifest.get("train_inputs", {}))


def _prior_folders_by_weights(zoo_dir: Path) -> dict[str, str]:
    """``shared/spynet-<key>`` folder → the folder kept for its weights: priors with byte-identical weights
    (the same prior under two cache keys, e.g. after a source change that does not change the weights) are
    kept once, in the folder the current code's key names, else the last by name."""
    current = f"spynet-{prior_dir().name}"
    groups: dict[str, list[str]] = {}
    for folder in sorted((zoo_dir / SHARED).glob("spynet-*")):
        if (folder / WEIGHTS).is_file():
            digest = hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()
            groups.setdefault(digest, []).append(folder.name)
    keep = {}
    for names in groups.values():
        chosen = current if current in names else names[-1]
        keep.update({n: chosen for n in names})
    return keep


def compact(zoo_dir: Path) -> list[str]:
    """Bring every entry to the current storage (float16 weights, shared training-input lists, one copy of
    each shared prior); the names of the entries rewritten. Weights already stored so, and the config
    hashes, are left as they are."""
    changed = []
    keep = _prior_folders_by_weights(zoo_dir)
    for manifest in entries(zoo_dir):
        folder = zoo_dir / manifest["entry"]
        touched = False
        shared = manifest.get("shared", {}).get("spynet")
        if shared:
            name = Path(shared["file"]).parent.name
            if keep.get(name, name) != name:
                shared["file"] = f"{SHARED}/{keep[name]}/{WEIGHTS}"
                touched = True
        if "train_inputs" in manifest:
            manifest["train_inputs_file"] = write_train_inputs(zoo_dir, manifest.pop("train_inputs"),
                                                                manifest["train_data_sha256"])
            touched = True
        if "storage" not in manifest:
            state, manifest["storage"] = storage_state(read_state_dict(folder / "model.pt"))
            save_state_dict_compressed(folder / "model.pt", state)
            touched = True
        if touched:
            atomic.write_bytes(folder / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
            changed.append(manifest["entry"])
    for name, chosen in keep.items():
        if name != chosen:
            shutil.rmtree(zoo_dir / SHARED / name)
    return changed


def publish(zoo_dir: Path, name: str, config: dict[str, Any], *, model: nn.Module, train: Any, run_dir: Path,
            summary: dict[str, Any], motion_init: Path | None, device: str, wall_s: float) -> Path:
    """Write entry ``name`` from a finished training run (replacing an older entry of that name)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    shared: dict[str, Any] = {}
    inputs_file = write_train_inputs(zoo_dir, summary.get("train_inputs", {}), config["train_data_sha256"])
    spynet = _frozen_spynet(model, train)
    if spynet is not None and motion_init is not None:
        shared["spynet"] = _publish_prior(zoo_dir, spynet, motion_init)
        state = {k: v for k, v in state.items() if not k.startswith(SPYNET_PREFIX)}
    state, storage = storage_state(state)
    git = code_at_start()
    manifest = {
        "entry": name, "model": config["model"], "model_args": config["model_args"], "seed": config["seed"],
        "config_hash": config_hash(config), "config": config, "schedule": train.schedule(),
        "code_commit": git.get("git_commit"), "code_dirty": git.get("git_dirty"), "code_hash": git.get("code_hash"),
        "train_data_sha256": config["train_data_sha256"], "train_inputs_file": inputs_file,
        "storage": storage,
        "motion_init_sha256": hashlib.sha256(motion_init.read_bytes()).hexdigest() if motion_init else None,
        "shared": shared, "steps": summary.get("steps"), "final_loss": summary.get("final_loss"),
        "last_log": summary.get("last_log", {}), "aux_terms": summary.get("aux_terms", []),
        "wall_s": round(wall_s, 1), "device": provenance.device_info(device),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "params": int(sum(p.numel() for p in model.parameters())),
    }
    tmp = zoo_dir / f".{name}.new"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_state_dict_compressed(tmp / "model.pt", state)  # deflated: the zoo is committed
    shutil.copyfile(run_dir / "loss.csv", tmp / "loss.csv")
    (tmp / MANIFEST).write_text(json.dumps(provenance.portable(manifest), indent=1, sort_keys=True) + "\n")
    return swap_in(tmp, zoo_dir / name)


def swap_in(tmp: Path, final: Path) -> Path:
    """Put the finished folder ``tmp`` in place of ``final`` (an older ``final`` is moved aside, then
    deleted); returns ``final``."""
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(final)
    return final


def entries(zoo_dir: Path) -> list[dict[str, Any]]:
    """Every entry's manifest (sorted by name)."""
    out = []
    for path in sorted(zoo_dir.glob(f"*/{MANIFEST}")):
        if path.parent.name != SHARED:
            out.append(json.loads(path.read_text()))
    return out
