"""Fig. 1c study: are the compressed temporal features closer to the clean video's than the uncompressed?

One sequence, one σ: the model runs on the clean clip and on ``realisations`` noisy copies
(:mod:`.streams`). At every coded step (``t ≥ 1``) the same ``samples / (T − 1)`` pixel positions (drawn
once with ``sample_seed``) are read from ``ĉ_t`` (stage ``before``, the compression module's input) and
``c~_t`` (stage ``after``); for a model without compression (M_a) both are ĉ_t. Rows (``metric``):

- per stage: ``distance_to_clean``, ``realisation_spread`` (both over the clean features' spread,
  :mod:`.robustness`; NaN when the clean features are constant), ``distance_to_clean_raw`` and
  ``clean_spread`` (feature units);
- stage ``latent`` (quantizing models only): ``symbol_agreement``, ``symbol_agreement_clean_grid``,
  ``clean_zero_share``, ``symbol_agreement_nonzero`` over every latent element of every coded step and
  realisation.

The t-SNE of each stage (clean + noisy points jointly) is returned as a table with its perplexity and
seed; it is a picture of the numbers above, not evidence by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from workbench.data.sequence import Sequence
from workbench.evaluate.analysis.embedding import effective_perplexity, identical_points, tsne_2d
from workbench.evaluate.analysis.probe import StepRecord
from workbench.evaluate.analysis.robustness import (
    SymbolCounts,
    clean_spread,
    noisy_clean_distance,
    raw_distance,
    realisation_spread,
)
from workbench.evaluate.analysis.streams import noisy_frames, probed_steps, realisation_seed

STAGES = ("before", "after")


@dataclass
class FeatureStudy:
    """Parameters of the Fig. 1c study (σ on the 0–255 scale)."""

    dataset: str = "embedded-test"
    #: sequence name; "" = the dataset's first sequence
    sequence: str = ""
    sigma: float = 50.0
    realisations: int = 4
    max_frames: int = 5
    #: feature positions sampled over all coded frames (t ≥ 1), the same for every stream
    samples: int = 200
    sample_seed: int = 0
    perplexity: float = 30.0
    tsne_seed: int = 0


def sample_positions(num_steps: int, height: int, width: int, total: int, seed: int) -> list[np.ndarray]:
    """Per coded step, flat pixel indices (without replacement within a step)."""
    rng = np.random.default_rng(seed)
    per = max(1, total // max(num_steps, 1))
    return [rng.choice(height * width, size=min(per, height * width), replace=False) for _ in range(num_steps)]


def _gather(x: Any, idx: np.ndarray) -> np.ndarray:
    """``(len(idx), C)`` features of the first batch item at flat positions ``idx``."""
    flat = x[0].reshape(x.shape[1], -1).cpu().numpy()
    return flat[:, idx].T


def _collect(model: nn.Module, seq: Sequence, dataset: str, p: FeatureStudy, device: str
             ) -> tuple[dict[str, list[list[np.ndarray]]], SymbolCounts, bool]:
    """Sampled features ``{stage: [stream][step] (P, C)}`` (stream 0 clean) and the symbol counts."""
    n = len(seq)
    h, w, _ = seq.shape
    positions = sample_positions(n - 1, h, w, p.samples, p.sample_seed)
    inputs = [seq.frame] + [noisy_frames(dataset, seq, p.sigma, r) for r in range(p.realisations)]
    feats: dict[str, list[list[np.ndarray]]] = {s: [[] for _ in inputs] for s in STAGES}
    counts, quantized = SymbolCounts(), False
    for t, records, _ in probed_steps(model, inputs, n, device=device, sigma=p.sigma):
        if t == 0:
            continue
        recs: list[StepRecord] = [r for r in records if r is not None]
        for i, rec in enumerate(recs):
            feats["before"][i].append(_gather(rec.before, positions[t - 1]))
            feats["after"][i].append(_gather(rec.after, positions[t - 1]))
        c = recs[0]
        if c.latent is not None and c.mu is not None and c.step is not None:
            quantized = True
            for r in recs[1:]:
                assert r.latent is not None and r.mu is not None and r.step is not None
                counts.add(c.latent, c.mu, c.step, r.latent, r.mu, r.step)
    return feats, counts, quantized


def _tsne_table(clean: np.ndarray, noisy: np.ndarray, stage: str, p: FeatureStudy) -> pd.DataFrame:
    points = np.concatenate([clean, noisy.reshape(-1, clean.shape[1])])
    xy = tsne_2d(points, perplexity=p.perplexity, seed=p.tsne_seed)
    source = ["clean"] * len(clean) + [f"noisy-{r}" for r in range(len(noisy)) for _ in range(len(clean))]
    return pd.DataFrame({"stage": stage, "source": source, "sample": list(range(len(clean))) * (len(noisy) + 1),
                         "tsne_x": xy[:, 0], "tsne_y": xy[:, 1],
                         "perplexity": effective_perplexity(p.perplexity, len(points)), "tsne_seed": p.tsne_seed,
                         "identical_points": identical_points(points)})


def feature_study(model: nn.Module, seq: Sequence, *, dataset: str, p: FeatureStudy, device: str
                  ) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """``(rows, t-SNE table)``; see the module docstring."""
    feats, counts, quantized = _collect(model, seq, dataset, p, device)
    base = {"level": "sequence", "sequence": seq.name, "setting": f"sigma={p.sigma:g}",
            "realisations": p.realisations, "samples": sum(len(x) for x in feats["before"][0]),
            "noise_seed": f"{realisation_seed(dataset, seq, p.sigma, 0)} + r, r < {p.realisations}",
            "sample_seed": p.sample_seed}
    rows: list[dict[str, Any]] = []
    tables = []
    for stage in STAGES:
        clean = np.concatenate(feats[stage][0])
        noisy = np.stack([np.concatenate(s) for s in feats[stage][1:]])
        for metric, value in (("distance_to_clean", noisy_clean_distance(clean, noisy)),
                              ("realisation_spread", realisation_spread(clean, noisy)),
                              ("distance_to_clean_raw", raw_distance(clean, noisy)),
                              ("clean_spread", clean_spread(clean))):
            rows.append({**base, "stage": stage, "metric": metric, "value": value})
        tables.append(_tsne_table(clean, noisy, stage, p))
    if quantized:
        for metric, value in counts.shares().items():
            rows.append({**base, "stage": "latent", "metric": metric, "value": value, "elements": counts.total})
    return rows, pd.concat(tables, ignore_index=True)
