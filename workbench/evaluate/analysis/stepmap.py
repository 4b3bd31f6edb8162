"""Fig. 6 study: is the learned quantization step larger in smooth regions than in textured ones?

The model (AdapQ) runs on the protocol's noisy realisation of each sequence (:mod:`.streams`); at every
coded step the step map ``q_t`` ``(L, h, w)`` is compared with the clean frame's luma variance over each
latent cell (:func:`~.qmap.block_variance`, ``block`` = the latent stride). Rows (pooled over the coded
frames of a sequence; ``level = "dataset"`` rows are means over sequences):

- ``rho_q_mean_vs_variance``: Spearman's ρ of the channel-mean step against the variance, and its
  ``sign_*`` (the paper predicts −1);
- ``rho_channel_median`` and ``share_channels_negative``: the same per latent channel;
- ``rho_shown_channel``: the channel drawn in the figure (the one whose q varies most);
- ``q_smooth_over_textured``: mean q over the quarter of cells with the lowest variance divided by the mean
  over the highest quarter (> 1 where the paper's statement holds).

A constant q (FixedQ) has no rank correlation (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from workbench.data.sequence import Sequence
from workbench.evaluate.analysis.qmap import block_variance, rank_correlation, sign
from workbench.evaluate.analysis.streams import noisy_frames, probed_steps

#: side of a latent cell in pixels (two stride-2 convolutions, :mod:`workbench.models.ncfl.compression`)
LATENT_STRIDE = 4


@dataclass
class StepMapStudy:
    """Parameters of the Fig. 6 study (σ on the 0–255 scale)."""

    dataset: str = "embedded-test"
    max_sequences: int | None = None
    sigma: float = 50.0
    max_frames: int = 5
    #: the sequence and frame drawn ("" = the first sequence; -1 = the last frame)
    example_sequence: str = ""
    example_frame: int = -1


def smooth_over_textured(q: np.ndarray, var: np.ndarray) -> float:
    """Mean q of the lowest-variance quarter of cells over that of the highest quarter."""
    lo, hi = np.quantile(var, [0.25, 0.75])
    smooth, textured = q[var <= lo], q[var >= hi]
    return float(smooth.mean() / textured.mean()) if len(smooth) and len(textured) else float("nan")


def step_map_metrics(q: np.ndarray, var: np.ndarray) -> dict[str, float]:
    """Metrics of a step map ``q`` ``(L, h, w)`` (or ``(L, n)`` pooled) against ``var`` of its cells."""
    q = q.reshape(q.shape[0], -1)
    v = var.ravel()
    per_channel = np.array([rank_correlation(qc, v) for qc in q])
    shown = int(np.argmax(q.std(axis=1)))
    rho = rank_correlation(q.mean(axis=0), v)
    finite = per_channel[np.isfinite(per_channel)]
    return {"rho_q_mean_vs_variance": rho, "sign_rho_q_mean_vs_variance": float(sign(rho)),
            "rho_channel_median": float(np.median(finite)) if len(finite) else float("nan"),
            "share_channels_negative": float(np.mean(finite < 0)) if len(finite) else float("nan"),
            "rho_shown_channel": float(per_channel[shown]), "shown_channel": float(shown),
            "q_smooth_over_textured": smooth_over_textured(q.mean(axis=0), v)}


def _sequence(model: nn.Module, seq: Sequence, dataset: str, p: StepMapStudy, device: str, example: int | None
              ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    qs: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    shown: dict[str, np.ndarray] = {}
    noisy = noisy_frames(dataset, seq, p.sigma, 0)
    for t, records, _ in probed_steps(model, [noisy], len(seq), device=device, sigma=p.sigma):
        rec = records[0]
        if t == 0 or rec is None:
            continue
        if rec.step is None:
            raise ValueError("the step-map study needs a quantizing NCFL (preset adapq/Mc/Md or fixedq)")
        q = rec.step[0].cpu().numpy()
        var = block_variance(seq.frame(t), LATENT_STRIDE, q.shape[1:])
        qs.append(q.reshape(q.shape[0], -1))
        vs.append(var.ravel())
        if t == example:
            shown = {"q": q, "variance": var, "clean_frame": seq.frame(t), "noisy_frame": noisy(t)}
    if not qs:
        raise ValueError(f"{seq.name}: fewer than 2 frames; no step was coded")
    return step_map_metrics(np.concatenate(qs, axis=1), np.concatenate(vs)), shown


def step_map_study(model: nn.Module, seqs: list[Sequence], *, dataset: str, p: StepMapStudy, device: str
                   ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """``(rows, example maps)``; see the module docstring."""
    rows: list[dict[str, Any]] = []
    per_seq: list[dict[str, float]] = []
    example: dict[str, np.ndarray] = {}
    name = p.example_sequence or seqs[0].name
    for seq in seqs:
        frame = p.example_frame % len(seq) if seq.name == name else None
        metrics, shown = _sequence(model, seq, dataset, p, device, frame)
        example = shown or example
        per_seq.append(metrics)
        rows += [{"level": "sequence", "sequence": seq.name, "setting": f"sigma={p.sigma:g}", "metric": k,
                  "value": v, "frames": len(seq) - 1} for k, v in metrics.items()]
    for k in per_seq[0]:
        if k == "shown_channel":
            continue
        values = [m[k.removeprefix("sign_")] for m in per_seq]
        mean = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        rows.append({"level": "dataset", "sequence": "", "setting": f"sigma={p.sigma:g}", "metric": k,
                     "value": float(sign(mean)) if k.startswith("sign_") else mean, "frames": ""})
    return rows, example
