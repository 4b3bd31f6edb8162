"""Every checkpoint read and write of the workbench, in one module.

- :func:`read_state_dict` / :func:`load_strict`: weights-only import of a state dict (optionally nested
  under ``params`` / ``state_dict`` as BasicSR and MMagic store it), strict loading with a one-line
  mismatch report. Used by the importers of official checkpoints (``baselines/importers_*.py``,
  :func:`workbench.models.spynet.load_spynet`), by the pipeline (``checkpoint:`` key, cached trained
  weights) and by ``workbench train``.
- :func:`save_weights` / :func:`load_weights`: a model's final weights (``model.pt``), atomic;
  :func:`save_state_dict_compressed`: the same with deflated zip entries (the committed model zoo).
- :func:`save_training_state` / :func:`read_training_state`: the resumable state of a training run
  (model, optimiser, step, sampler RNG state, the hash of the training config it belongs to, plus any
  plain extra values), written atomically so a killed run leaves the previous state intact. Used by the
  restoration training loop (:mod:`workbench.train.loop`) and the codec training
  (:mod:`workbench.codec.train`).

This is the only place that calls ``torch.load``, always with ``weights_only=True``: a checkpoint cannot
run code. Unreadable files raise :class:`~workbench.errors.CheckpointError` with one line naming the file.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from workbench.atomic import torch_save, write_bytes
from workbench.errors import CheckpointError

#: keys of a training-state file (:func:`save_training_state`)
TRAINING_STATE_KEYS = ("model", "optim", "step", "rng", "spec_hash")


def _load(path: Path) -> Any:
    """Weights-only load of ``path`` with a one-line error for missing or unloadable files."""
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; pass the path of a .pth/.pt file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated files, unsafe globals
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a loadable weights-only checkpoint ({first}); "
                              "delete it to retrain or pass another file") from None


def read_state_dict(path: str | os.PathLike[str], *, inner_keys: tuple[str, ...] = ()) -> dict[str, Tensor]:
    """Read a state dict from ``path``; descend into the first of ``inner_keys`` present
    (e.g. ``("params", "state_dict")`` for BasicSR / MMagic files)."""
    path = Path(path)
    obj = _load(path)
    for key in inner_keys:
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: does not hold a state dict of tensors")
    return dict(obj)


def strip_prefix(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """Remove ``prefix`` (e.g. ``"module."`` from DataParallel) from every key that has it."""
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in state.items()}


def rename_keys(state: Mapping[str, Tensor], rename: Callable[[str], str | None]) -> dict[str, Tensor]:
    """Apply an explicit key map; a key mapped to ``None`` is dropped on purpose."""
    out: dict[str, Tensor] = {}
    for k, v in state.items():
        new = rename(k)
        if new is not None:
            out[new] = v
    return out


def load_strict(model: nn.Module, state: Mapping[str, Tensor], *, source: str) -> None:
    """Load ``state`` into ``model`` strictly; on mismatch raise one line naming the missing and
    unexpected keys (first few of each) and shape conflicts."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(
        f"{k} {tuple(state[k].shape)}≠{tuple(own[k].shape)}"
        for k in set(own) & set(state)
        if tuple(own[k].shape) != tuple(state[k].shape)
    )
    if missing or unexpected or shapes:

        def head(items: list[str]) -> str:
            return ", ".join(items[:4]) + (f" (+{len(items) - 4} more)" if len(items) > 4 else "")

        parts = []
        if missing:
            parts.append(f"missing keys: {head(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {head(unexpected)}")
        if shapes:
            parts.append(f"shape mismatch: {head(shapes)}")
        raise CheckpointError(
            f"{source}: checkpoint does not fit {type(model).__name__}: " + "; ".join(parts)
            + " — check that the file is for this model and configuration"
        )
    model.load_state_dict(dict(state), strict=True)


def save_weights(path: str | os.PathLike[str], model: nn.Module) -> None:
    """Write ``model.state_dict()`` to ``path`` atomically (a plain state dict, CPU tensors)."""
    torch_save(Path(path), {k: v.detach().cpu() for k, v in model.state_dict().items()})


def save_state_dict_compressed(path: str | os.PathLike[str], state: Mapping[str, Tensor]) -> None:
    """Write a state dict atomically as ``torch.save`` does, with every zip entry deflated (level 9).

    ``torch.load`` reads deflated entries (it only loses memory-mapping, which a weights file of a few MB
    does not need); float32 weights shrink by about 9 %. Used for the committed model zoo."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buf)
    buf.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED,
                                                      compresslevel=9) as zout:
        for info in zin.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(entry, zin.read(info.filename))
    write_bytes(Path(path), out.getvalue())


def load_weights(path: str | os.PathLike[str], model: nn.Module, *, inner_keys: tuple[str, ...] = ()) -> None:
    """Strictly load the state dict in ``path`` (see :func:`read_state_dict`) into ``model``."""
    load_strict(model, read_state_dict(path, inner_keys=inner_keys), source=str(path))


def save_training_state(path: str | os.PathLike[str], *, model: nn.Module, optimizer: torch.optim.Optimizer,
                        step: int, rng: Tensor | None, spec_hash: str, **extra: Any) -> None:
    """Atomically write the resumable state of a training run; ``extra`` holds plain values or tensors."""
    state: dict[str, Any] = {"model": model.state_dict(), "optim": optimizer.state_dict(), "step": int(step),
                             "rng": rng, "spec_hash": spec_hash, **extra}
    torch_save(Path(path), state)


def read_training_state(path: str | os.PathLike[str], *, spec_hash: str | None = None) -> dict[str, Any]:
    """The training state in ``path``; with ``spec_hash``, refuse a state made with another config."""
    path = Path(path)
    state = _load(path)
    if not isinstance(state, Mapping) or not {"model", "optim", "step"} <= set(state):
        raise CheckpointError(f"{path}: not a training-state file (needs model, optim, step); "
                              "delete it to start the run afresh")
    if spec_hash is not None and state.get("spec_hash") != spec_hash:
        raise CheckpointError(f"{path}: checkpoint was made with another training config; use a new --out "
                              "or delete the folder")
    return dict(state)


def restore_training_state(state: Mapping[str, Any], *, model: nn.Module, optimizer: torch.optim.Optimizer,
                           source: str) -> int:
    """Load ``state`` (from :func:`read_training_state`) into ``model`` and ``optimizer``; returns the step."""
    load_strict(model, state["model"], source=source)
    optimizer.load_state_dict(state["optim"])
    return int(state["step"])
