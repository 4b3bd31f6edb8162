"""Robustness of features to input noise (Fig. 1c; the claim of §4.3 that noisy features "will be mapped to
the same quantized representation with the clean data with high probability").

Features are sampled at the same positions from a run on the clean clip and from ``K`` runs on noisy
realisations of it (same σ, different seeds): ``clean`` ``(n, C)``, ``noisy`` ``(K, n, C)``.

- :func:`clean_spread`: ``s = sqrt(mean_i ||c_i − c̄||²)``, the RMS distance of the clean features to their
  centroid (the scale every distance is divided by, so features of different modules compare);
- :func:`noisy_clean_distance`: ``mean_{k,i} ||n_{k,i} − c_i|| / s``;
- :func:`realisation_spread`: ``mean_i sqrt(mean_k ||n_{k,i} − n̄_i||²) / s`` (the noise left in the
  features, independent of any clean reference).

Both are NaN when ``s = 0`` (constant clean features carry nothing to compare); :func:`raw_distance` is the
unnormalised distance.

Quantized symbols (eq. 2): ``k = round((e − μ)/q)``. :func:`symbol_counts` compares the noisy run's
symbols with the clean run's, each quantized on its own grid (``μ``, ``q`` come from each run's own
prior), and also on the clean run's grid (``round((e_noisy − μ_clean)/q_clean)``: the paper's argument,
one fixed grid); and reports how many clean symbols are 0, because when nearly every symbol is 0 the
agreement is high for a trivial reason (the agreement among non-zero clean symbols is kept apart).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


def clean_spread(clean: np.ndarray) -> float:
    """RMS distance of the rows of ``clean`` ``(n, C)`` to their mean."""
    c = clean.astype(np.float64)
    return float(np.sqrt(np.mean(np.sum((c - c.mean(axis=0)) ** 2, axis=1))))


def _scale(clean: np.ndarray) -> float:
    s = clean_spread(clean)
    # constant clean features (e.g. features warped out of the frame: all 0) have no scale: NaN, not 0
    return s if s > 0 else float("nan")


def raw_distance(clean: np.ndarray, noisy: np.ndarray) -> float:
    """Mean Euclidean distance of each noisy sample to its clean sample, in feature units."""
    return float(np.linalg.norm(noisy.astype(np.float64) - clean.astype(np.float64)[None], axis=-1).mean())


def noisy_clean_distance(clean: np.ndarray, noisy: np.ndarray) -> float:
    """Mean Euclidean distance of each noisy sample to its clean sample, over the clean spread."""
    return raw_distance(clean, noisy) / _scale(clean)


def realisation_spread(clean: np.ndarray, noisy: np.ndarray) -> float:
    """Mean over positions of the RMS distance of the K realisations to their mean, over the clean spread."""
    n = noisy.astype(np.float64)
    per_pos = np.sqrt(np.mean(np.sum((n - n.mean(axis=0, keepdims=True)) ** 2, axis=-1), axis=0))
    return float(per_pos.mean() / _scale(clean))


def symbols(e: Tensor, mu: Tensor, step: Tensor) -> Tensor:
    """The integer symbols of eq. 2, ``round((e − μ)/q)``."""
    return torch.round((e - mu) / step)


@dataclass
class SymbolCounts:
    """Counts of latent elements, accumulated over steps and realisations."""

    total: int = 0
    same_symbol: int = 0        # own grids: round((e_n − μ_n)/q_n) == round((e_c − μ_c)/q_c)
    same_on_clean_grid: int = 0  # clean grid: round((e_n − μ_c)/q_c) == round((e_c − μ_c)/q_c)
    clean_zero: int = 0          # clean symbol == 0
    nonzero_total: int = 0
    nonzero_same: int = 0        # own grids, among elements whose clean symbol is not 0

    def add(self, e_c: Tensor, mu_c: Tensor, q_c: Tensor, e_n: Tensor, mu_n: Tensor, q_n: Tensor) -> None:
        k_c, k_n = symbols(e_c, mu_c, q_c), symbols(e_n, mu_n, q_n)
        same = k_c == k_n
        nonzero = k_c != 0
        self.total += k_c.numel()
        self.same_symbol += int(same.sum())
        self.same_on_clean_grid += int((symbols(e_n, mu_c, q_c) == k_c).sum())
        self.clean_zero += int((~nonzero).sum())
        self.nonzero_total += int(nonzero.sum())
        self.nonzero_same += int((same & nonzero).sum())

    def shares(self) -> dict[str, float]:
        """``symbol_agreement``, ``symbol_agreement_clean_grid``, ``clean_zero_share``,
        ``symbol_agreement_nonzero`` (NaN when no clean symbol is non-zero)."""
        t = max(self.total, 1)
        return {
            "symbol_agreement": self.same_symbol / t,
            "symbol_agreement_clean_grid": self.same_on_clean_grid / t,
            "clean_zero_share": self.clean_zero / t,
            "symbol_agreement_nonzero": (self.nonzero_same / self.nonzero_total if self.nonzero_total
                                         else float("nan")),
        }
