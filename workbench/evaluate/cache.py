"""Evaluations computed once: the rows of :func:`workbench.evaluate.restoration.evaluate_model` cached by
what determines them.

One trained model often stands in several table rows (NCFL's M_d is a row of Tables 1, 5, 7 and 8, M_c of
Tables 5 and 6, the uni-directional baselines of Tables 1 and 8): its evaluation at σ = 50 on the same clips
is the same computation each time. :func:`evaluation_key` hashes everything the rows depend on — the model's
class and every tensor of its state dict (names, dtypes, shapes, bytes), the evaluation protocol, the
dataset's file checksums, the subset columns, the device type and the code hash — and :func:`cached_rows`
returns the rows of an identical earlier evaluation (``runs/eval/<key[:20]>.json``, written atomically) or
computes and stores them with the seconds the computation took (:func:`stored_seconds`: what
:mod:`workbench.pipeline.prefetch` plans with). Any change to the weights, the protocol, the data or the
code gives another key.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench import atomic, provenance
from workbench.paths import runs_root


def weights_digest(model: nn.Module) -> str:
    """sha256 over the model's class and every state-dict tensor (name, dtype, shape, bytes)."""
    h = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def evaluation_key(model: nn.Module, *, protocol: dict[str, Any], data: dict[str, str], subset: dict[str, Any],
                   device: str) -> str:
    parts = {"weights": weights_digest(model), "protocol": protocol, "data": dict(sorted(data.items())),
             "subset": subset, "device": torch.device(device).type, "code": provenance.code_hash()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def cache_path(key: str) -> Path:
    return runs_root() / "eval" / f"{key[:20]}.json"


def cached_rows(key: str, compute: Callable[[], list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], bool]:
    """``(rows, reused)``: the stored rows of evaluation ``key``, or ``compute()``'s, stored for next time."""
    path = cache_path(key)
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
            if stored.get("key") == key:
                return list(stored["rows"]), True
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed and replaced
    t0 = time.perf_counter()
    rows = compute()
    seconds = round(time.perf_counter() - t0, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps({"key": key, "rows": rows, "seconds": seconds}, default=str))
    return rows, False


def stored_seconds(key: str) -> float | None:
    """Seconds the stored evaluation ``key`` took to compute (``None``: not stored, or stored without them)."""
    try:
        stored = json.loads(cache_path(key).read_text())
    except (OSError, ValueError):
        return None
    value = stored.get("seconds") if stored.get("key") == key else None
    return float(value) if value is not None else None
