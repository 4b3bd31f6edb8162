"""``workbench bench gpu-check``: the checks that need a GPU, in one run of under 5 minutes, into one CSV.

Kept ready for the day a CUDA device is at hand; without one it refuses in one line (exit 2), and
``--dry-run`` lists what it would run (:func:`plan`) on any machine. The checks, in order:

1. ``train-bf16 <model>``: :data:`TRAIN_MODELS` at full width (FastDVDNet, EDVR, BasicVSR and BasicVSR++
   uni/bi, NCFL presets ``Md`` and ``bi``), each ``train_steps`` steps of the real training loop
   (:func:`workbench.train.loop.train`) with ``precision: bf16`` and ``loader_workers: 2`` (pinned memory) on
   synthetic clips; rows: wall time, final loss, whether every logged loss is finite, peak CUDA memory;
2. ``bf16-vs-fp32 ncfl-Md``: the same run in fp32 and bf16; rows: the largest relative difference of the
   logged loss and of the rate term (the CPU test, tests/train/test_precision.py, allows 5 % and 10 %);
3. ``loader``: :func:`workbench.train.loader_bench.benchmark_loader` on JPEG frames of 960×540 written
   for the check (decoding like DAVIS), 0 and ``loader_workers`` workers, beside FastDVDNet's bf16 steps/s;
4. ``runtime <model>``: ms per output frame at 960×540 (:func:`workbench.evaluate.complexity.runtime.time_model`,
   the rule of ``workbench bench runtime``) of every zoo model, and the ratio to FastDVDNet;
5. ``deform plain`` / ``deform torchvision``: ``workbench bench deform``'s measurement
   (:func:`workbench.evaluate.complexity.deform_bench.benchmark_deform_conv`, 1×64×136×240, 16 groups) of
   the plain-PyTorch path, and of torchvision's operator when it imports.

A check that fails is recorded (``status`` = the error's first line) and the next one runs; once the budget
(``budget_s``, 300 s) is spent the remaining checks are recorded as skipped. CSV columns: :data:`COLUMNS`,
one row per measured value (long format), the device, torch and CUDA versions in the ``environment`` rows.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from workbench import atomic
from workbench.data.readers import FolderSequence
from workbench.data.sequence import ArraySequence, Sequence
from workbench.errors import ConfigError
from workbench.evaluate.complexity.audit import zoo_factories
from workbench.evaluate.complexity.deform_bench import DeformBenchResult, benchmark_deform_conv
from workbench.evaluate.complexity.runtime import device_name, time_model
from workbench.ops.deform_conv import modulated_deform_conv2d
from workbench.paths import runs_root
from workbench.train.loader_bench import benchmark_loader
from workbench.train.loop import train
from workbench.train.spec import AuxStage, Precision, TrainSpec
from workbench.zoo import build_model

#: (check name, zoo model id, constructor arguments): every denoising model at full width
TRAIN_MODELS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("fastdvdnet", "fastdvdnet", {}),
    ("edvr", "edvr", {}),
    ("basicvsr-uni", "basicvsr-uni", {}),
    ("basicvsr-bi", "basicvsr-bi", {}),
    ("basicvsrpp-uni", "basicvsrpp-uni", {}),
    ("basicvsrpp-bi", "basicvsrpp-bi", {}),
    ("ncfl-Md", "ncfl", {"preset": "Md"}),
    ("ncfl-bi", "ncfl", {"preset": "bi"}),
)
#: the models of ``workbench bench runtime`` (its default list)
RUNTIME_MODELS = ("fastdvdnet", "edvr", "basicvsr-uni", "basicvsr-bi", "basicvsrpp-uni", "basicvsrpp-bi",
                  "ncfl-uni", "ncfl-bi")
COLUMNS = ["check", "item", "metric", "value", "unit", "status", "seconds"]
#: a measured value: ``{"item", "metric", "value", "unit"}``
Row = dict[str, Any]


@dataclass(frozen=True)
class GpuCheckSettings:
    """Sizes of the checks (small patches: a handful of steps per model, not a training)."""

    train_steps: int = 4
    train_batch: int = 2
    train_patch: int = 64
    clip_frames: int = 5
    loader_workers: int = 4
    loader_batch: int = 8
    loader_batches: int = 20
    loader_patch: int = 96
    runtime_resolution: tuple[int, int] = (960, 540)
    runtime_repeats: int = 5
    deform_repeats: int = 7
    #: ``(N, C, H, W)`` of the deformable-convolution benchmark (``workbench bench deform``'s default)
    deform_shape: tuple[int, int, int, int] = (1, 64, 136, 240)
    budget_s: float = 300.0


@dataclass(frozen=True)
class Check:
    """One check: its name, what it does (the dry-run's line) and the function that measures it."""

    name: str
    what: str
    run: Callable[[str, Path], list[Row]]


def require_cuda(device: str) -> None:
    """Refuse, in one line, a device that is not a visible CUDA device."""
    why = ("this torch build has no CUDA" if torch.version.cuda is None
           else "no CUDA device is visible" if not torch.cuda.is_available() else "")
    if not why and torch.device(device).type != "cuda":
        why = f"--gpu {device} is not a CUDA device"
    if why:
        raise ConfigError(f"bench gpu-check: needs a CUDA device ({why}; torch {torch.__version__}); run it on a "
                          "GPU machine, or add --dry-run to list its checks")


def _clips(frames: int, size: int, seed: int) -> list[Sequence]:
    """Two synthetic sequences of moving colour gradients plus texture, ``(frames, size, size, 3)``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out: list[Sequence] = []
    for s in range(2):
        seq = [np.stack([np.sin(3 * xx + 0.2 * t + s), np.cos(2 * yy - 0.1 * t), xx * yy], -1) * 0.4 + 0.5
               + 0.03 * rng.standard_normal((size, size, 3)) for t in range(frames)]
        out.append(ArraySequence(f"synthetic{s}", np.clip(np.stack(seq), 0, 1).astype(np.float32)))
    return out


def _train_spec(s: GpuCheckSettings, precision: Precision, steps: int | None = None) -> TrainSpec:
    n = steps or s.train_steps
    return TrainSpec(dataset="synthetic", steps=n, batch_size=s.train_batch, patch_size=s.train_patch,
                     clip_frames=s.clip_frames, lr=1e-4, seed=0, log_every=1, checkpoint_every=n,
                     aux_stages=[AuxStage(until=1.0, weights={"ce_bpp": 1e-4})], precision=precision,
                     loader_workers=2)


def _train_log(model_id: str, args: dict[str, Any], spec: TrainSpec, device: str,
               out: Path) -> tuple[list[dict[str, str]], float, float]:
    """``(loss.csv rows, wall s, peak CUDA GiB (nan off CUDA))`` of one short training run."""
    model = build_model(model_id, args, seed=0, where=f"gpu-check {model_id}")
    seqs = _clips(spec.clip_frames + 3, spec.patch_size + 32, seed=0)
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    train(model=model, spec=spec, train_sequences=seqs, out_dir=out, device=device, progress=False)
    if cuda:
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - t0
    with (out / "loss.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return rows, wall, torch.cuda.max_memory_allocated(device) / 2**30 if cuda else math.nan


def _train_check(name: str, model_id: str, args: dict[str, Any], s: GpuCheckSettings, device: str,
                 work: Path) -> list[Row]:
    spec = _train_spec(s, "bf16")
    log, wall, peak = _train_log(model_id, args, spec, device, work / f"train-{name}")
    losses = [float(r["loss"]) for r in log]
    return [{"item": name, "metric": "wall_s", "value": wall, "unit": f"s for {spec.steps} steps"},
            {"item": name, "metric": "final_loss", "value": losses[-1], "unit": ""},
            {"item": name, "metric": "all_losses_finite", "value": int(all(map(math.isfinite, losses))),
             "unit": "bool"},
            {"item": name, "metric": "peak_memory", "value": peak, "unit": "GiB"}]


def _bf16_vs_fp32(s: GpuCheckSettings, device: str, work: Path) -> list[Row]:
    logs = {p: _train_log("ncfl", {"preset": "Md"}, _train_spec(s, p, steps=5), device, work / f"cmp-{p}")[0]
            for p in ("fp32", "bf16")}

    def rel(key: str) -> float:
        pairs = zip(logs["fp32"], logs["bf16"])
        return max(abs(float(b[key]) - float(a[key])) / abs(float(a[key])) for a, b in pairs)

    return [{"item": "ncfl-Md 5 steps", "metric": "max_rel_diff_loss", "value": rel("loss"), "unit": "fraction"},
            {"item": "ncfl-Md 5 steps", "metric": "max_rel_diff_rate", "value": rel("aux"), "unit": "fraction"}]


def _jpeg_sequences(folder: Path, frames: int, size: tuple[int, int]) -> list[Sequence]:
    """Two sequences of ``frames`` JPEG frames of ``size`` = (W, H), written into ``folder``."""
    w, h = size
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    out: list[Sequence] = []
    for s in range(2):
        d = folder / f"seq{s}"
        d.mkdir(parents=True, exist_ok=True)
        for t in range(frames):
            base = np.stack([(xx + 5 * t + 40 * s) % 256, (yy + 3 * t) % 256, (xx + yy) // 6 % 256], -1)
            img = np.clip(base + rng.integers(-8, 9, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"{t:05d}.jpg", quality=90)
        out.append(FolderSequence(root=d))
    return out


def _loader_check(s: GpuCheckSettings, device: str, work: Path) -> list[Row]:
    seqs = _jpeg_sequences(work / "frames", 24, s.runtime_resolution)
    r = benchmark_loader(dataset="jpeg-960x540", sequences=seqs, workers=s.loader_workers, batch=s.loader_batch,
                         patch=s.loader_patch, batches=s.loader_batches, cache_frames=0, model="fastdvdnet",
                         model_args={}, precision="bf16", device=device, steps=5, warmup=2)
    return r.rows()


def _runtime_check(model_id: str, s: GpuCheckSettings, device: str, work: Path) -> list[Row]:
    model = zoo_factories([model_id])[model_id]()
    r = time_model(model_id, model, resolution=s.runtime_resolution, device=device, warmup=1,
                   repeats=s.runtime_repeats)
    return [{"item": model_id, "metric": "ms_per_frame", "value": r.ms_per_frame,
             "unit": f"ms at {r.resolution[0]}x{r.resolution[1]} ({r.rule})"}]


def _deform_rows(r: DeformBenchResult, item: str) -> list[Row]:
    values = (("deform_forward_ms", r.deform_forward_ms, "ms"), ("conv_forward_ms", r.conv_forward_ms, "ms"),
              ("deform_train_ms", r.deform_train_ms, "ms"), ("conv_train_ms", r.conv_train_ms, "ms"),
              ("forward_ratio", r.forward_ratio, "x"), ("train_ratio", r.train_ratio, "x"))
    return [{"item": item, "metric": m, "value": v, "unit": u} for m, v, u in values]


def _deform_check(torchvision: bool, s: GpuCheckSettings, device: str, work: Path) -> list[Row]:
    fn = partial(modulated_deform_conv2d, padding=1, use_torchvision=torchvision)
    n, c, h, w = s.deform_shape
    r = benchmark_deform_conv(batch=n, channels=c, height=h, width=w, device=device, repeats=s.deform_repeats,
                              deform_fn=fn)
    return _deform_rows(r, "torchvision" if torchvision else "plain")


def plan(settings: GpuCheckSettings | None = None) -> list[Check]:
    """The checks, in the order they run (see the module docstring)."""
    s = settings or GpuCheckSettings()
    px = f"{s.train_batch}x{s.clip_frames}x{s.train_patch}x{s.train_patch}"
    w, h = s.runtime_resolution
    checks = [Check(f"train-bf16 {name}", f"{s.train_steps} bf16 training steps of {model_id}"
                    f"{f' {args}' if args else ''} at full width, clips {px}, loader_workers 2",
                    partial(_train_check, name, model_id, args, s))
              for name, model_id, args in TRAIN_MODELS]
    checks.append(Check("bf16-vs-fp32 ncfl-Md", "5 steps of ncfl Md in fp32 and in bf16: largest relative "
                        "difference of the logged loss and rate", partial(_bf16_vs_fp32, s)))
    checks.append(Check("loader", f"bench loader on 960x540 JPEG frames: clips/s at 0 and {s.loader_workers} "
                        f"workers (batch {s.loader_batch}, patch {s.loader_patch}) beside fastdvdnet bf16 steps/s",
                        partial(_loader_check, s)))
    checks += [Check(f"runtime {m}", f"bench runtime: ms per output frame of {m} at {w}x{h}",
                     partial(_runtime_check, m, s)) for m in RUNTIME_MODELS]
    shape = "x".join(map(str, s.deform_shape))
    checks += [Check(f"deform {kind}", f"bench deform on CUDA ({kind} path): deformable ÷ regular conv, "
                     f"{shape}, 16 groups", partial(_deform_check, kind == "torchvision", s))
               for kind in ("plain", "torchvision")]
    return checks


def default_out() -> Path:
    """``<runs root>/gpu_check/gpu-check-<UTC time>.csv``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return runs_root() / "gpu_check" / f"gpu-check-{stamp}.csv"


def _environment(device: str) -> list[dict[str, Any]]:
    dev = torch.device(device)
    values = {"device": device_name(dev), "torch": torch.__version__, "cuda": torch.version.cuda or "",
              "cudnn": str(torch.backends.cudnn.version() or "")}
    return [{"check": "environment", "item": k, "metric": "version" if k != "device" else "name", "value": v,
             "unit": "", "status": "ok", "seconds": 0.0} for k, v in values.items()]


def _with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runtime rows plus each model's ratio to FastDVDNet (when FastDVDNet was timed)."""
    ms = {r["item"]: r["value"] for r in rows if r["metric"] == "ms_per_frame" and r["status"] == "ok"}
    ref = ms.get("fastdvdnet")
    if not ref:
        return rows
    return rows + [{"check": f"runtime {m}", "item": m, "metric": "ratio_fastdvdnet", "value": v / ref, "unit": "x",
                    "status": "ok", "seconds": 0.0} for m, v in ms.items()]


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    w.writerows(rows)
    atomic.write_text(path, buf.getvalue())


def run_gpu_check(*, device: str = "cuda", out: Path | None = None, settings: GpuCheckSettings | None = None,
                  only: Callable[[Check], bool] | None = None, print_fn: Callable[[str], None] = print) -> Path:
    """Run :func:`plan` (the checks ``only`` keeps, default all) on ``device`` (refused without CUDA) and write
    the CSV; returns its path."""
    require_cuda(device)
    s = settings or GpuCheckSettings()
    out = out or default_out()
    rows = _environment(device)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        for check in plan(s):
            if only is not None and not only(check):
                continue
            if time.perf_counter() - t_start > s.budget_s:
                rows.append({"check": check.name, "item": "", "metric": "", "value": "", "unit": "",
                             "status": f"skipped: the {s.budget_s:.0f} s budget is spent", "seconds": 0.0})
                print_fn(f"{check.name}: skipped (budget spent)")
                continue
            t0 = time.perf_counter()
            try:
                measured, status = check.run(device, Path(tmp)), "ok"
            except Exception as exc:  # a failing check is recorded; the others still run
                first = (str(exc).strip().splitlines() or [""])[0]
                measured, status = [{"item": "", "metric": "", "value": "", "unit": ""}], \
                    f"error: {type(exc).__name__}: {first}"
            seconds = time.perf_counter() - t0
            rows += [{"check": check.name, **m, "status": status, "seconds": round(seconds, 2)} for m in measured]
            print_fn(f"{check.name}: {status} ({seconds:.1f} s)")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    rows = _with_ratios(rows)
    rows.append({"check": "total", "item": "", "metric": "wall_s", "value": round(time.perf_counter() - t_start, 1),
                 "unit": "s", "status": "ok", "seconds": 0.0})
    _write(out, rows)
    print_fn(f"wrote {out}")
    return out
