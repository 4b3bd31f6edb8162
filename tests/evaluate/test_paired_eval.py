"""Paired evaluation: closed-form PSNR on Y and RGB with the declared frames left out, the half-input protocol
on a constant frame, and the metric set each benchmark declares."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.data.paired import StackedPair
from workbench.data.sequence import ArraySequence
from workbench.errors import ConfigError, DatasetError
from workbench.evaluate.paired import METRIC_SETS, PairedEvalSpec, declared_metrics, evaluate_paired
from workbench.models.reference import NoisyInput

Y_GAIN = (65.481 + 128.553 + 24.966) / 255  # ΔY per unit of an equal step on R, G and B (219/255)


def _pair(name: str, offsets: list[int], frames: int = 7, hw: tuple[int, int] = (16, 20)) -> StackedPair:
    """Clean frames of 8-bit levels; degraded = clean + offsets[t] levels (so uint8 rounding is exact)."""
    rng = np.random.default_rng(len(name))
    clean = rng.integers(40, 180, size=(frames, *hw, 3)).astype(np.float32) / 255
    degraded = clean + np.array(offsets, np.float32)[:, None, None, None] / 255
    return StackedPair(name=name, degraded=ArraySequence(name, degraded), clean=ArraySequence(name, clean))


def _rows(seqs, metrics="deraining"):
    spec = PairedEvalSpec(dataset="toy", metrics=metrics)
    rows = evaluate_paired(NoisyInput(), seqs, dataset="toy", spec=spec, device="cpu",
                           subset={"subset": "all", "subset_size": "1 of 1"})
    return {(r["level"], r["sequence"], r["metric"]): r for r in rows}


def test_deraining_psnr_is_closed_form_on_y_and_rgb_and_skips_the_ends():
    # frames 0, 1, 5, 6 are left out (2 + 2): their huge error must not count
    seq = _pair("a", [60, 60, 10, 10, 10, 60, 60])
    rows = _rows([seq])
    rgb = -20 * math.log10(10 / 255)
    y = -20 * math.log10(10 * Y_GAIN / 255)
    assert rows[("sequence", "a", "psnr_rgb_db")]["value"] == pytest.approx(rgb, abs=1e-9)
    assert rows[("sequence", "a", "psnr_y_db")]["value"] == pytest.approx(y, abs=1e-6)
    assert rows[("sequence", "a", "psnr_db")]["value"] == rows[("sequence", "a", "psnr_y_db")]["value"]
    r = rows[("dataset", "", "ssim")]
    assert r["frames"] == "" and rows[("sequence", "a", "ssim")]["frames"] == 3
    assert r["protocol_primary_channel"] == "y" and r["protocol_channels"] == "y+rgb"
    assert r["protocol_frames_excluded"] == "first 2 and last 2 of each sequence" and r["setting"] == "default"
    assert r["protocol_rounding"] == "uint8"


def test_dataset_rows_average_the_sequences():
    rows = _rows([_pair("a", [5] * 7), _pair("b", [20] * 7)], metrics="dehazing-full")
    a, b = (-20 * math.log10(d / 255) for d in (5, 20))
    assert rows[("dataset", "", "psnr_db")]["value"] == pytest.approx((a + b) / 2, abs=1e-9)
    assert ("dataset", "", "psnr_y_db") not in rows  # dehazing is RGB only
    assert rows[("sequence", "a", "psnr_db")]["frames"] == 7  # nothing left out


def test_half_input_protocol_restores_at_half_size_and_scores_at_full():
    clean = np.full((3, 16, 20, 3), 100 / 255, np.float32)
    seq = StackedPair(name="c", degraded=ArraySequence("c", clean + 8 / 255), clean=ArraySequence("c", clean))
    rows = _rows([seq], metrics="dehazing-half")
    assert rows[("dataset", "", "psnr_db")]["value"] == pytest.approx(-20 * math.log10(8 / 255), abs=1e-6)
    assert rows[("dataset", "", "psnr_db")]["protocol_input_scale"] == 0.5


def test_short_sequences_and_unpaired_data_are_refused_by_name():
    with pytest.raises(DatasetError, match="leaves out the first 2 and last 2"):
        _rows([_pair("short", [1] * 4, frames=4)])
    with pytest.raises(ConfigError, match="not a degraded/clean pair"):
        _rows([ArraySequence("x", np.zeros((5, 8, 8, 3), np.float32))])


def test_every_benchmark_declares_its_metric_set():
    assert declared_metrics("rainsyn-all100") == declared_metrics("rainsyn-complex25-train") == "deraining"
    assert declared_metrics("nturain") == declared_metrics("embedded-rain-train") == "deraining"
    assert declared_metrics("revide-indoor") == declared_metrics("embedded-haze-test") == "dehazing-full"
    assert METRIC_SETS["deraining"].channels == ("y", "rgb")
    with pytest.raises(ConfigError, match="no declared paired metric set"):
        declared_metrics("set8")
    with pytest.raises(ConfigError, match="metrics: 'nope'"):
        PairedEvalSpec(metrics="nope").validate()


def test_a_noise_map_model_is_refused_on_paired_data():
    from baselines.fastdvdnet import FastDVDNet

    with pytest.raises(ConfigError, match="carry no noise σ"):
        evaluate_paired(FastDVDNet(), [_pair("a", [1] * 7)], dataset="toy", spec=PairedEvalSpec(dataset="toy",
                        metrics="deraining"), device="cpu", subset={})


def test_every_embedded_paired_split_declares_its_metric_set() -> None:
    from workbench.data.embedded_paired import PAIRED_SPLITS

    for split, info in PAIRED_SPLITS.items():
        expected = "dehazing-full" if info.preset == "haze" else "deraining"
        assert declared_metrics(split) == expected, split
