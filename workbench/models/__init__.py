"""The paper's method (NCFL) and the shared modules (motion estimation, warping)."""
