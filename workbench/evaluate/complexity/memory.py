"""Peak memory while streaming a sequence, at several sequence lengths: which models stay flat.

Each (model, length) runs in a fresh Python subprocess (``python -m workbench.evaluate.complexity.memory``)
so that peaks do not leak between measurements. The child builds the model, then streams ``frames``
random float32 frames ``(H, W, C)`` in ``[0, 1]`` through :func:`workbench.evaluate.infer.restore_stream`
(window models: sliding window; recurrent: carried state; clip models: chunks of ``chunk_len`` frames,
``None`` = the whole sequence in one forward, their natural mode), and prints one JSON line:

- CPU: ``peak_mb`` = the process's peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``, so no
  sampling is missed; Python's ``tracemalloc`` does not see torch's allocator), ``baseline_mb`` = the
  same peak just before streaming (model built, weights resident);
- CUDA: ``torch.cuda.max_memory_allocated`` and ``memory_allocated`` before streaming.

``delta_mb = peak_mb − baseline_mb`` is the memory the streaming itself needed. This is a benchmark
command, not part of the audit cell (at 960×540 on CPU it takes minutes per model).
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench.errors import ToolError
from workbench.evaluate.infer import restore_stream
from workbench.zoo import MODELS


def _build(model_id: str) -> Any:
    """A zoo model id, or ``package.module:callable`` (a zero-argument constructor, used by tests)."""
    if ":" in model_id:
        module, attr = model_id.split(":", 1)
        return getattr(importlib.import_module(module), attr)()
    return MODELS.get(model_id)()


def _child(
    model_id: str, frames: int, width: int, height: int, device: str, chunk_len: int | None
) -> dict[str, Any]:
    dev = torch.device(device)
    model = _build(model_id).to(dev).eval()
    c = int(getattr(model, "in_channels", 3))
    mode = str(getattr(model, "temporal_mode", "window"))

    def frame(t: int) -> np.ndarray:
        return np.random.default_rng(t).random((height, width, c), dtype=np.float32)

    sigma = 25.0 if getattr(model, "uses_noise_map", False) else None
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        baseline = torch.cuda.memory_allocated(dev) / 2**20
    else:
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chunk = chunk_len or frames
    for _ in restore_stream(model, frame, frames, noise_sigma=sigma, device=dev, chunk_len=chunk,
                            chunk_overlap=0 if chunk_len is None else 2):
        pass
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        peak = torch.cuda.max_memory_allocated(dev) / 2**20
        kind = "cuda max_memory_allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        kind = "peak RSS (ru_maxrss)"
    return {"method": model_id, "frames": frames, "resolution": f"{width}x{height}", "device": device,
            "baseline_mb": baseline, "peak_mb": peak, "delta_mb": peak - baseline, "measure": kind,
            "temporal_mode": mode, "chunk_len": ("whole sequence" if chunk_len is None else chunk_len)
            if mode == "clip" else "n/a"}


def measure_once(
    model_id: str,
    *,
    frames: int,
    resolution: tuple[int, int] = (960, 540),
    device: str = "cpu",
    chunk_len: int | None = None,
    threads: int = 1,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Run one measurement in a fresh subprocess and return its JSON record."""
    cmd = [sys.executable, "-m", "workbench.evaluate.complexity.memory", "--model", model_id,
           "--frames", str(frames), "--width", str(resolution[0]), "--height", str(resolution[1]),
           "--device", device, "--threads", str(threads)]
    if chunk_len is not None:
        cmd += ["--chunk-len", str(chunk_len)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolError(f"memory benchmark of {model_id!r} ({frames} frames) failed: {tail}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def benchmark_memory(
    models: list[str],
    *,
    lengths: tuple[int, ...] = (8, 32),
    resolution: tuple[int, int] = (960, 540),
    device: str = "cpu",
    chunk_len: int | None = None,
    threads: int = 1,
    flat_tolerance: float = 0.10,
) -> pd.DataFrame:
    """Peak memory per (model, sequence length); ``flat`` = the streaming delta at the longest length is
    within ``flat_tolerance`` (relative, plus 16 MB) of the one at the shortest."""
    rows = [measure_once(m, frames=n, resolution=resolution, device=device, chunk_len=chunk_len,
                         threads=threads) for m in models for n in lengths]
    df = pd.DataFrame(rows)
    lo, hi = min(lengths), max(lengths)
    flat: dict[str, bool] = {}
    for m, g in df.groupby("method"):
        d_lo = float(g.loc[g["frames"] == lo, "delta_mb"].iloc[0])
        d_hi = float(g.loc[g["frames"] == hi, "delta_mb"].iloc[0])
        flat[str(m)] = d_hi <= d_lo * (1 + flat_tolerance) + 16.0
    df["flat"] = df["method"].map(flat)
    return df


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="one streaming peak-memory measurement (prints JSON)")
    p.add_argument("--model", required=True)
    p.add_argument("--frames", type=int, required=True)
    p.add_argument("--width", type=int, default=960)
    p.add_argument("--height", type=int, default=540)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--chunk-len", type=int, default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(json.dumps(_child(a.model, a.frames, a.width, a.height, a.device, a.chunk_len)))


if __name__ == "__main__":
    main()
