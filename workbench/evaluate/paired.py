"""Evaluate a restoration model on degraded/clean pairs (deraining, dehazing) under the metrics each benchmark
declares (docs/protocols.md §3–4).

A benchmark's metric set (:data:`METRIC_SETS`, chosen per dataset by :data:`DATASET_METRICS`) fixes

- the **channels**: deraining on the Y channel (MATLAB BT.601, :func:`workbench.evaluate.metrics.rgb_to_y`)
  *and* on RGB, both recorded; dehazing on RGB. The first channel is the primary one: its values are the rows
  ``psnr_db``/``ssim`` that meet the paper's numbers; every channel also has its own rows ``psnr_<c>_db``,
  ``ssim_<c>``;
- the **frames left out** at the sequence ends: deraining 2 + 2 (S2VD's NTURain script; RMFD's test script
  produces frames 3 .. N−2 only); the model still sees them (the recurrent state runs over every frame);
- **rounding**: both frames rounded to uint8 before the metric (S2VD ``img_as_ubyte``, MAP-Net ``tensor2img``);
  the output clamped to [0, 1];
- **resolution**: ``input_scale`` 1 (full resolution) or 0.5 (MAP-Net's REVIDE protocol: the hazy input
  downscaled ×0.5 bilinearly, the output upsampled bilinearly to the full-resolution ground truth). Which one
  CG-IDN and NCFL used is **[unconfirmed]**; the default is full resolution **[choice]**.

SSIM: Gaussian 11×11, σ 1.5 (:func:`workbench.evaluate.metrics.ssim`). Averaging: frame → sequence → dataset.
Rows: one per (sequence, metric) with ``level = "sequence"`` and one per metric with ``level = "dataset"``,
``setting = "default"`` (the reported tables' setting), each with the protocol card (``protocol_*``), the
frames evaluated and the rule of the frames left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from workbench.data.paired import split_pair
from workbench.data.sequence import Sequence
from workbench.errors import ConfigError, DatasetError
from workbench.evaluate.infer import chunking_rule, restore_stream
from workbench.evaluate.metrics import Protocol, average_frames, frame_metrics
from workbench.models.base import RestorationModel


@dataclass(frozen=True)
class PairedMetrics:
    """The metric set of a benchmark (see the module docstring); ``source`` says where it comes from."""

    name: str
    channels: tuple[Literal["y", "rgb"], ...]
    trim_start: int
    trim_end: int
    rounding: Literal["none", "uint8"]
    input_scale: float
    source: str

    def card(self) -> dict[str, Any]:
        return {"protocol_metric_set": self.name, "protocol_channels": "+".join(self.channels),
                "protocol_primary_channel": self.channels[0], "protocol_rounding": self.rounding,
                "protocol_input_scale": self.input_scale, "protocol_crop_border": 0, "protocol_clip_output": True,
                "protocol_ssim": "skimage-gaussian11-sigma1.5", "protocol_averaging": "frame>sequence>dataset",
                "protocol_frames_excluded": f"first {self.trim_start} and last {self.trim_end} of each sequence",
                "protocol_source": self.source}


METRIC_SETS: dict[str, PairedMetrics] = {
    "deraining": PairedMetrics(
        "deraining", ("y", "rgb"), 2, 2, "uint8", 1.0,
        "S2VD test_NTURain_synthetic.py (Y of MATLAB rgb2ycbcr on uint8 frames, first and last 2 frames "
        "excluded); RMFD's test script outputs frames 3..N-2"),
    "dehazing-full": PairedMetrics(
        "dehazing-full", ("rgb",), 0, 0, "uint8", 1.0,
        "RGB on uint8 frames at full resolution [choice: CG-IDN's resolution is unconfirmed]"),
    "dehazing-half": PairedMetrics(
        "dehazing-half", ("rgb",), 0, 0, "uint8", 0.5,
        "MAP-Net (CVPR'23) REVIDE protocol: input x0.5 bilinear, output bilinear to the full-resolution GT, RGB uint8"),
}

#: benchmark → its metric set (``<name>-train`` splits take their test split's)
DATASET_METRICS: dict[str, str] = {
    "rainsyn-light25": "deraining", "rainsyn-complex25": "deraining", "rainsyn-all100": "deraining",
    "nturain": "deraining", "revide-indoor": "dehazing-full",
    "embedded-rain-test": "deraining", "embedded-rainstreak-test": "deraining", "embedded-haze-test": "dehazing-full",
    "embedded-mini-rain-test": "deraining", "embedded-mini-rainstreak-test": "deraining",
    "embedded-mini-haze-test": "dehazing-full",
}


def declared_metrics(dataset: str) -> str:
    """The metric set ``dataset`` declares; a dataset without one is refused by name."""
    name = dataset.removesuffix("-train") + ("-test" if dataset.startswith("embedded-") and
                                              dataset.endswith("-train") else "")
    if name not in DATASET_METRICS:
        raise ConfigError(f"{dataset}: no declared paired metric set; known datasets: "
                          f"{', '.join(sorted(DATASET_METRICS))} (or set evaluate.metrics: "
                          f"{'|'.join(METRIC_SETS)})")
    return DATASET_METRICS[name]


@dataclass
class PairedEvalSpec:
    """The evaluation of a paired cell: ``dataset`` (a paired catalog id), ``metrics`` (a metric set of
    :data:`METRIC_SETS`; ``None`` = the one the dataset declares), frame and sequence limits, and the chunking
    of clip (bi-directional) models (as :class:`workbench.evaluate.restoration.EvalSpec`)."""

    dataset: str = "embedded-rain-test"
    metrics: str | None = None
    max_frames: int | None = None
    max_sequences: int | None = None
    sequences: list[str] | None = None
    chunk_len: int | None = None
    chunk_overlap: int = 2

    def validate(self) -> None:
        if self.metrics is not None and self.metrics not in METRIC_SETS:
            raise ConfigError(f"metrics: {self.metrics!r} is not one of {', '.join(METRIC_SETS)}")
        for key, value in (("max_frames", self.max_frames), ("max_sequences", self.max_sequences),
                           ("chunk_len", self.chunk_len)):
            if value is not None and value < 1:
                raise ConfigError(f"{key}: must be at least 1 or null, got {value}")
        if self.chunk_overlap < 0:
            raise ConfigError(f"chunk_overlap: must be 0 or more, got {self.chunk_overlap}")
        if self.sequences is not None and not self.sequences:
            raise ConfigError("sequences: an empty list evaluates nothing; list sequence names or use null (all)")

    def metric_set(self) -> PairedMetrics:
        return METRIC_SETS[self.metrics or declared_metrics(self.dataset)]


def _resize(frame: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``(H, W, 3)`` float32 to ``hw`` (half-pixel centres, no antialiasing: OpenCV's
    ``INTER_LINEAR``, the resize of MAP-Net's pipeline)."""
    if frame.shape[:2] == hw:
        return frame
    x = torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1)))[None]
    y = F.interpolate(x, size=hw, mode="bilinear", align_corners=False)
    return y[0].permute(1, 2, 0).numpy().astype(np.float32)


def _frame_rows(clean: np.ndarray, restored: np.ndarray, ms: PairedMetrics) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, channel in enumerate(ms.channels):
        m = frame_metrics(clean, restored, Protocol(channel=channel, rounding=ms.rounding, clip_output=True,
                                                    frames_per_sequence=None))
        out[f"psnr_{channel}_db"], out[f"ssim_{channel}"] = m["psnr_db"], m["ssim"]
        if k == 0:
            out["psnr_db"], out["ssim"] = m["psnr_db"], m["ssim"]
    return out


def evaluate_sequence(model: RestorationModel, seq: Sequence, ms: PairedMetrics, *, device: str,
                      chunk_len: int | None = None, chunk_overlap: int = 2) -> list[dict[str, float]]:
    """Per-frame metrics of one paired sequence (the frames left out by ``ms`` are restored, not scored)."""
    n = len(seq)
    if n <= ms.trim_start + ms.trim_end:
        raise DatasetError(f"{seq.location()}: sequence {seq.name!r} has {n} frame(s), but the {ms.name} metric "
                           f"leaves out the first {ms.trim_start} and last {ms.trim_end}; use longer sequences")
    h, w = seq.shape[:2]
    small = (max(1, round(h * ms.input_scale)), max(1, round(w * ms.input_scale)))

    def degraded(i: int) -> np.ndarray:
        return _resize(split_pair(seq.frame(i))[0], small)

    frames = []
    for t, out in restore_stream(model, degraded, n, device=device, chunk_len=chunk_len, chunk_overlap=chunk_overlap):
        if ms.trim_start <= t < n - ms.trim_end:
            frames.append(_frame_rows(split_pair(seq.frame(t))[1], _resize(out, (h, w)), ms))
    return frames


def evaluate_paired(model: RestorationModel, seqs: list[Sequence], *, dataset: str, spec: PairedEvalSpec,
                    device: str, subset: dict[str, Any], progress: bool = False) -> list[dict[str, Any]]:
    """Long-format rows of ``model`` on the paired sequences ``seqs`` (module docstring)."""
    if not seqs:
        raise DatasetError(f"{dataset}: no sequence to evaluate; check evaluate.sequences and max_sequences")
    unpaired = [s.name for s in seqs if s.kind != "paired"]
    if unpaired:
        raise ConfigError(f"{dataset}: {unpaired[0]!r} is not a degraded/clean pair; a paired cell needs a paired "
                          "dataset (rainsyn-*, nturain, revide-indoor, embedded-{rain,rainstreak,haze}-*)")
    if model.uses_noise_map:
        raise ConfigError(f"{dataset}: degraded/clean pairs carry no noise σ, but {type(model).__name__} takes a "
                          "noise map; evaluate a blind model on paired data")
    if model.temporal_mode == "window" and model.window > 1:
        need = model.window
        short = [s for s in seqs if len(s) < need]
        if short:
            raise DatasetError(f"{short[0].location()}: {len(short[0])} frame(s), the model's window needs {need}")
    ms = spec.metric_set()
    extra = {"chunking": chunking_rule(spec.chunk_len, spec.chunk_overlap) if model.temporal_mode == "clip"
             else "not applicable (window or recurrent model)", **ms.card(), **subset,
             "protocol_frames_per_sequence": spec.max_frames or "all"}
    rows: list[dict[str, Any]] = []
    per_seq: list[dict[str, float]] = []
    for seq in tqdm(seqs, desc=f"evaluate {dataset}", unit="seq", disable=not progress, leave=False):
        frames = evaluate_sequence(model, seq, ms, device=device, chunk_len=spec.chunk_len,
                                   chunk_overlap=spec.chunk_overlap)
        mean = average_frames(frames)
        per_seq.append(mean)
        rows += [{"level": "sequence", "sequence": seq.name, "setting": "default", "metric": k, "value": v,
                  "frames": len(frames), **extra} for k, v in mean.items()]
    rows += [{"level": "dataset", "sequence": "", "setting": "default", "metric": k,
              "value": float(np.mean([m[k] for m in per_seq])), "frames": "", **extra} for k in per_seq[0]]
    return rows
