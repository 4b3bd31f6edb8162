"""t-SNE embedding of sampled features (Fig. 1c). A t-SNE layout depends on its perplexity, its seed and
the sample, so all three are parameters here and are recorded with every embedding; the numbers of
:mod:`.robustness` are what the figure is judged by.
"""

from __future__ import annotations

import numpy as np
from sklearn.manifold import TSNE


def identical_points(points: np.ndarray) -> bool:
    """Whether every row of ``points`` is the same (a collapsed feature map, e.g. every symbol 0)."""
    return bool(np.ptp(points, axis=0).max() <= 1e-12 * max(1.0, float(np.abs(points).max())))


def tsne_2d(points: np.ndarray, *, perplexity: float, seed: int) -> np.ndarray:
    """``(n, 2)`` t-SNE embedding of ``points`` ``(n, C)`` (PCA init, perplexity capped below n).

    Identical points have no layout: they are all placed at the origin (t-SNE's PCA start would divide
    by zero); :func:`identical_points` tells the caller."""
    n = len(points)
    if n < 3:
        raise ValueError(f"t-SNE needs at least 3 points, got {n}")
    if not np.isfinite(points).all():
        raise ValueError("t-SNE of non-finite features")
    if identical_points(points):
        return np.zeros((n, 2), np.float32)
    perp = min(float(perplexity), (n - 1) / 3.0)  # sklearn requires perplexity < n
    model = TSNE(n_components=2, perplexity=perp, random_state=seed, init="pca", n_jobs=1)
    return np.asarray(model.fit_transform(points.astype(np.float64)), dtype=np.float32)


def effective_perplexity(perplexity: float, n: int) -> float:
    """The perplexity :func:`tsne_2d` uses for ``n`` points (capped below ``n``)."""
    return min(float(perplexity), (n - 1) / 3.0)
