"""PSNR/SSIM against closed-form cases."""

import math

import numpy as np
import pytest

from workbench.evaluate.metrics import Protocol, average_frames, frame_metrics, psnr, rgb_to_y, ssim


def test_psnr_of_constant_error_is_closed_form():
    clean = np.full((16, 16, 3), 0.5, np.float32)
    test = clean + 0.1  # MSE = 0.01 -> PSNR = 20 dB
    assert psnr(clean, test) == pytest.approx(20.0, abs=1e-5)
    assert frame_metrics(clean, test)["psnr_db"] == pytest.approx(20.0, abs=1e-4)


def test_psnr_identical_is_infinite_and_ssim_one():
    x = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    assert math.isinf(psnr(x, x))
    assert ssim(x, x) == pytest.approx(1.0)


def test_output_is_clamped_before_metrics_but_clean_is_not():
    clean = np.zeros((16, 16, 3), np.float32)
    over = np.full_like(clean, -0.5)  # clamped to 0 -> perfect
    assert math.isinf(frame_metrics(clean, over, Protocol(clip_output=True))["psnr_db"])
    assert frame_metrics(clean, over, Protocol(clip_output=False))["psnr_db"] == pytest.approx(
        10 * math.log10(1 / 0.25)
    )


def test_ssim_of_scaled_contrast_matches_formula():
    # constant images: SSIM reduces to the luminance term (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1)
    a = np.full((32, 32, 3), 0.2)
    b = np.full((32, 32, 3), 0.6)
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    assert ssim(a, b) == pytest.approx(expected, rel=1e-6)


def test_protocol_card_and_averaging():
    card = Protocol(frames_per_sequence=None, crop_border=2).card()
    assert card["protocol_frames_per_sequence"] == "all" and card["protocol_crop_border"] == 2
    assert card["protocol_averaging"] == "frame>sequence>dataset"
    assert average_frames([{"psnr_db": 30.0}, {"psnr_db": 40.0}]) == {"psnr_db": 35.0}


def test_uint8_rounding_and_crop_change_values():
    rng = np.random.default_rng(1)
    clean = rng.random((20, 20, 3)).astype(np.float32)
    test = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    base = frame_metrics(clean, test)["psnr_db"]
    assert frame_metrics(clean, test, Protocol(rounding="uint8"))["psnr_db"] != base
    assert frame_metrics(clean, test, Protocol(crop_border=3))["psnr_db"] != base


def test_noisy_input_floor_is_scored_unclamped_with_the_clamped_figure_beside_it():
    """FastDVDNet's test script reports PSNR-noisy on the unclamped noisy frame; the clamped PSNR is the
    second metric ``psnr_clamped_db`` (closed form: an error of 0.5 on a clean 0.8 frame clamps to 0.2)."""
    from workbench.evaluate.restoration import EvalSpec, evaluate_model, protocol_for
    from workbench.models.reference import NoisyInput

    clean = np.full((16, 16, 3), 0.8, np.float32)
    noisy = clean + 0.5
    m = frame_metrics(clean, noisy, Protocol(clip_output=False, also_clamped=True))
    assert m["psnr_db"] == pytest.approx(10 * math.log10(1 / 0.25))
    assert m["psnr_clamped_db"] == pytest.approx(10 * math.log10(1 / 0.04))
    p = protocol_for(NoisyInput(), EvalSpec())
    assert p.card()["protocol_clip_output"] is False and p.card()["protocol_also_clamped"] is True

    from workbench.data.sequence import ArraySequence

    seq = ArraySequence("flat", np.repeat(clean[None], 2, axis=0))
    rows = evaluate_model(NoisyInput(), [seq], dataset="t", spec=EvalSpec(sigmas=[30.0], max_frames=None),
                          device="cpu")
    by = {r["metric"]: r["value"] for r in rows if r["level"] == "dataset"}
    assert by["psnr_clamped_db"] > by["psnr_db"]  # clamping the noise towards [0, 1] only removes error
    assert {r["subset"] for r in rows} == {"all"}


def test_y_channel_is_matlab_bt601_in_closed_form():
    rgb = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.25, 0.75]], np.float64)
    y255 = rgb_to_y(rgb) * 255
    expected = [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966,
                16 + 65.481 * 0.5 + 128.553 * 0.25 + 24.966 * 0.75]
    assert np.allclose(y255, expected, atol=1e-9)
    # an 8-bit pixel (R, G, B) = (200, 100, 50): MATLAB rgb2ycbcr gives Y = 16 + (65.481·200 + 128.553·100
    # + 24.966·50) / 255 = 122.6659 (before MATLAB's own uint8 rounding to 123)
    px = np.array([200, 100, 50], np.float64) / 255
    assert rgb_to_y(px) * 255 == pytest.approx(122.665882, abs=1e-5)


def test_y_channel_psnr_of_a_known_error():
    clean = np.full((16, 16, 3), 0.5, np.float32)
    test = clean + np.float32(10 / 255)  # +10 levels on every channel: ΔY = 10 · 219/255 levels
    m = frame_metrics(clean, test, Protocol(channel="y", clip_output=False))
    dy = 10 * (65.481 + 128.553 + 24.966) / 255 / 255
    assert m["psnr_db"] == pytest.approx(-20 * np.log10(dy), abs=1e-4)


def test_y_channel_agrees_with_scikit_images_rgb2ycbcr():
    from skimage.color import rgb2ycbcr  # an independent implementation of the same ITU-R BT.601 matrix

    x = np.random.default_rng(3).random((9, 11, 3))
    assert np.allclose(rgb_to_y(x) * 255, rgb2ycbcr(x)[..., 0], atol=1e-9)
