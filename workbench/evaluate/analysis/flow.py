"""Flow accuracy (Fig. 4). Flows are ``(2, H, W)`` float arrays in pixels ``(dx, dy)``, backward
(``flow_warp(x_{t−1}, flow_t) ≈ x_t``, the convention of :func:`workbench.data.embedded.embedded_flow`)."""

from __future__ import annotations

import numpy as np


def endpoint_error(flow: np.ndarray, reference: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean endpoint error ``||flow − reference||₂`` in pixels over the ``valid`` pixels ``(H, W)``."""
    if flow.shape != reference.shape or flow.shape[0] != 2:
        raise ValueError(f"flows of shapes {flow.shape} and {reference.shape}; expected (2, H, W) both")
    err = np.sqrt(np.sum((flow.astype(np.float64) - reference.astype(np.float64)) ** 2, axis=0))
    if valid is not None:
        if not valid.any():
            return float("nan")
        err = err[valid]
    return float(err.mean())
