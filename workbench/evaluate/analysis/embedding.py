"""t-SNE embedding of sampled features (Fig. 1c). A t-SNE layout depends on its perplexity, its seed and
the sample, so all three are parameters here and are recorded with every embedding; the numbers of
:mod:`.robustness` are what the figure is judged by.
"""

from __future__ import annotations

import numpy as np
from sklearn.manifold import TSNE


def tsne_2d(points: np.ndarray, *, perplexity: float, seed: int) -> np.ndarray:
    """``(n, 2)`` t-SNE embedding of ``points`` ``(n, C)`` (PCA init, exact perplexity, one thread)."""
    n = len(points)
    if n < 3:
        raise ValueError(f"t-SNE needs at least 3 points, got {n}")
    perp = min(float(perplexity), (n - 1) / 3.0)  # sklearn requires perplexity < n
    model = TSNE(n_components=2, perplexity=perp, random_state=seed, init="pca", n_jobs=1)
    return np.asarray(model.fit_transform(points.astype(np.float64)), dtype=np.float32)


def effective_perplexity(perplexity: float, n: int) -> float:
    """The perplexity :func:`tsne_2d` uses for ``n`` points (capped below ``n``)."""
    return min(float(perplexity), (n - 1) / 3.0)
