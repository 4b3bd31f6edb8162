"""Matched-bpp PSNR gap: closed-form curves."""

import math

import numpy as np

from workbench.evaluate.fig2.curves import gap_rows, interp_log_bpp, matched_gap


def test_parallel_curves_in_log_bpp_give_the_offset() -> None:
    xb = [0.05, 0.1, 0.4, 1.6]
    lb = [0.08, 0.2, 0.8]
    xv = [30 + 2 * math.log(b) for b in xb]
    lv = [31.5 + 2 * math.log(b) for b in lb]
    gap, rng = matched_gap(xb, xv, lb, lv)
    assert rng == (0.08, 0.8)
    assert abs(gap - 1.5) < 1e-9
    assert abs(float(interp_log_bpp(xb, xv, np.array([0.2]))[0]) - (30 + 2 * math.log(0.2))) < 1e-9


def test_sign_and_no_overlap() -> None:
    gap, _ = matched_gap([0.1, 1.0], [30.0, 32.0], [0.1, 1.0], [29.0, 31.0])
    assert abs(gap + 1.0) < 1e-12  # learned below x265 -> negative
    gap, rng = matched_gap([0.1, 0.2], [30.0, 31.0], [0.5, 1.0], [29.0, 31.0])
    assert math.isnan(gap) and rng is None


def test_gap_rows_from_dataset_rows() -> None:
    rows = []
    for method, pts in (
        ("x265", [("qp=37", 0.1, 28.0), ("qp=32", 0.4, 30.0)]),
        ("learned-hyperprior", [("lambda=0.001", 0.2, 30.0), ("lambda=0.01", 0.8, 31.0)]),
    ):
        for rp, b, v in pts:
            base = {"level": "dataset", "method": method, "sigma": 20.0, "rate_point": rp}
            rows += [
                {**base, "metric": "bpp", "reference": "", "value": b},
                {**base, "metric": "psnr_db", "reference": "clean", "value": v},
            ]
    out = gap_rows(rows, dataset="d", sigma=20.0)
    mean = next(r for r in out if r["rate_point"] == "overlap-mean")
    # over [0.2, 0.4] in log bpp: learned 30→30.5, x265 29→30 -> mean diff 0.75
    assert abs(mean["value"] - 0.75) < 1e-9 and mean["bpp_lo"] == 0.2 and mean["bpp_hi"] == 0.4
    at = {r["rate_point"]: r["value"] for r in out if r["rate_point"] != "overlap-mean"}
    assert set(at) == {"lambda=0.001"} and abs(at["lambda=0.001"] - 1.0) < 1e-9


def test_one_gap_row_per_sequence_from_its_own_curves() -> None:
    """Each sequence's overlap-mean gap comes from that sequence's two curves (closed form: constant offsets)."""
    rows = []
    offsets = {"a": 1.5, "b": -0.5}
    for seq, off in offsets.items():
        for method, pts in (("x265", [("qp=37", 0.1), ("qp=32", 0.4)]),
                            ("learned-hyperprior", [("lambda=0.001", 0.2), ("lambda=0.01", 0.8)])):
            for rp, b in pts:
                v = 30 + 2 * math.log(b) + (off if method != "x265" else 0.0)
                base = {"level": "sequence", "sequence": seq, "method": method, "sigma": 20.0, "rate_point": rp}
                rows += [{**base, "metric": "bpp", "reference": "", "value": b},
                         {**base, "metric": "psnr_db", "reference": "clean", "value": v}]
    per_seq = [r for r in gap_rows(rows, dataset="d", sigma=20.0) if r["level"] == "sequence"]
    assert {r["sequence"]: r["rate_point"] for r in per_seq} == {"a": "overlap-mean", "b": "overlap-mean"}
    for r in per_seq:
        assert abs(r["value"] - offsets[r["sequence"]]) < 1e-9 and (r["bpp_lo"], r["bpp_hi"]) == (0.2, 0.4)
