"""Loading state dicts from checkpoint files safely and strictly.

Used by every importer (official FastDVDNet, BasicSR/MMagic EDVR, BasicVSR, BasicVSR++, SPyNet) and by
training resume. Files are read with ``torch.load(weights_only=True)``: a checkpoint cannot run code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from workbench.errors import CheckpointError


def read_state_dict(path: str | os.PathLike[str], *, inner_keys: tuple[str, ...] = ()) -> dict[str, Tensor]:
    """Read a state dict from ``path``; descend into the first of ``inner_keys`` present
    (e.g. ``("params", "state_dict")`` for BasicSR / MMagic files)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; pass the path of a .pth file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated files, unsafe globals
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a loadable weights-only checkpoint ({first})") from None
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
