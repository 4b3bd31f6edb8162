"""Unprocessing (RViDeNet's fixed Brooks variant) followed by the forward pipeline returns the input.

Tolerances: on pixels where no clip and no near-white mask acted (``exact``), float64 round trip ≤ 1e-9;
through the 12-bit DN file (truncation to an integer DN) ≤ 0.02 mean absolute error on the embedded frames
(the gamma and tone curves amplify the quantisation step near black: measured 0.0012 mean).
"""

import numpy as np
import pytest

from workbench.data.embedded import open_embedded
from workbench.data.raw import normalize_raw, pack_bayer
from workbench.data.unprocess import mosaic, process, rgb2cam, srgb_to_raw_dn, to_dn, unprocess


def test_rgb2cam_rows_sum_to_one() -> None:
    np.testing.assert_allclose(rgb2cam().sum(axis=1), 1.0, atol=1e-12)


def test_round_trip_float_exact_where_invertible() -> None:
    rgb = np.random.default_rng(0).uniform(0.0, 1.0, size=(64, 64, 3))
    cam, exact = unprocess(rgb)
    assert exact.mean() > 0.5  # most random colours stay in gamut
    back = process(cam)
    assert np.abs(back - rgb)[exact].max() < 1e-9
    assert cam.min() >= 0.0 and cam.max() <= 1.0


def test_round_trip_on_embedded_frames_through_dn() -> None:
    frame = open_embedded("embedded-test")[0].frame(0).astype(np.float64)
    cam, exact = unprocess(frame)
    assert np.abs(process(cam) - frame)[exact].max() < 1e-9
    dn = to_dn(cam)  # per-channel DN, no mosaic: isolates the quantisation
    back = process(normalize_raw(dn).astype(np.float64))
    err = np.abs(back - frame)[exact]
    assert err.mean() < 0.002 and err.max() < 0.01


def test_mosaic_is_gbrg_and_matches_dn_writer() -> None:
    cam = np.zeros((4, 4, 3))
    cam[..., 0], cam[..., 1], cam[..., 2] = 0.1, 0.2, 0.3
    m = mosaic(cam, "GBRG")
    assert m[0, 0] == 0.2 and m[0, 1] == 0.3 and m[1, 0] == 0.1 and m[1, 1] == 0.2
    packed = pack_bayer(m, "GBRG")  # [R, Gr, B, Gb]
    assert packed[0, 0].tolist() == [0.1, 0.2, 0.3, 0.2]
    rgb = np.full((4, 6, 3), 0.5)
    dn = srgb_to_raw_dn(rgb)
    assert dn.dtype == np.uint16 and dn.shape == (4, 6) and dn.min() >= 240 and dn.max() <= 4095


def test_mosaic_rejects_odd_sizes() -> None:
    with pytest.raises(ValueError):
        mosaic(np.zeros((3, 4, 3)))
