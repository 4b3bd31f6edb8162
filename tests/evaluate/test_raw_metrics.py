"""Golden test of the raw metric: an independent PSNR (closed form) and SSIM (explicit 7×7 windows) agree
to 1e-6 with :mod:`workbench.evaluate.raw_metrics`, and the uint16 truncation is the script's."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from workbench.data.raw import pack_bayer
from workbench.evaluate.raw_metrics import average_crvd, quantize_prediction, raw_frame_metrics

SPAN, BLACK = 3855.0, 240.0


def _independent_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM with 7×7 uniform windows, sample covariance (N−1), K1 0.01, K2 0.03, data range 1: the mean
    over every window lying inside the image (scikit-image's border crop of 3 px)."""
    wx, wy = sliding_window_view(x, (7, 7)), sliding_window_view(y, (7, 7))
    n = 49
    mx, my = wx.mean(axis=(-1, -2)), wy.mean(axis=(-1, -2))
    vx = ((wx - mx[..., None, None]) ** 2).sum(axis=(-1, -2)) / (n - 1)
    vy = ((wy - my[..., None, None]) ** 2).sum(axis=(-1, -2)) / (n - 1)
    cxy = ((wx - mx[..., None, None]) * (wy - my[..., None, None])).sum(axis=(-1, -2)) / (n - 1)
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def _pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    gt_dn = rng.integers(200, 4096, size=(40, 48)).astype(np.float32)  # includes values below black
    gt = (gt_dn - np.float32(BLACK)) / np.float32(SPAN)
    pred = gt + rng.normal(0, 0.02, size=gt.shape).astype(np.float32)
    pred[0, :5] = [-0.1, 1.2, 0.5, 0.25, 0.999]
    return gt, pred


def test_golden_psnr_ssim_against_independent_implementations() -> None:
    gt, pred = _pair()
    gt_p, pred_p = pack_bayer(gt, "GBRG"), pack_bayer(pred, "GBRG")
    got = raw_frame_metrics(gt_p, pred_p)
    # independent: truncation by floor of clipped DN, PSNR in closed form on float64
    q = (np.floor(np.clip(pred.astype(np.float64), 0, 1) * SPAN + BLACK) - BLACK) / SPAN
    psnr = 10 * np.log10(1.0 / np.mean((gt.astype(np.float64) - q) ** 2))
    ssim = np.mean([_independent_ssim(pack_bayer(gt.astype(np.float64), "GBRG")[..., k],
                                      pack_bayer(q, "GBRG")[..., k]) for k in range(4)])
    assert abs(got["psnr_db"] - psnr) < 1e-6
    assert abs(got["ssim"] - ssim) < 1e-6


def test_quantisation_truncates_and_clips() -> None:
    pred = np.array([-0.3, 0.0, (100.7) / SPAN, 1.0, 1.7], dtype=np.float32)
    q = quantize_prediction(pred) * SPAN
    np.testing.assert_allclose(q, [0.0, 0.0, 100.0, SPAN, SPAN], atol=1e-3)


def test_identical_frames_and_averaging() -> None:
    gt = quantize_prediction(np.linspace(0, 1, 40 * 48).reshape(40, 48))
    # half a DN above an integer DN truncates back to it (a prediction equal to the DN itself may land one
    # DN lower through float error: the script truncates, it does not round)
    pred = gt + np.float32(0.5 / SPAN)
    m = raw_frame_metrics(pack_bayer(gt, "GBRG"), pack_bayer(pred, "GBRG"))
    assert m["psnr_db"] == float("inf") and abs(m["ssim"] - 1) < 1e-12
    avg = average_crvd({("7", 1600): {"psnr_db": 40.0}, ("8", 1600): {"psnr_db": 42.0},
                        ("7", 3200): {"psnr_db": 38.0}})
    assert avg == {1600: {"psnr_db": 41.0}, 3200: {"psnr_db": 38.0}}
