"""RGB ↔ Y'CbCr 4:2:0 conversion: closed-form values and round trips."""

import numpy as np
import pytest

from workbench.codec.colour import (
    ColourSpec,
    downsample_chroma,
    quantisation_error_bound,
    quantise,
    rgb_to_ycbcr,
    rgb_to_yuv420,
    upsample_chroma,
    ycbcr_to_rgb,
    yuv420_to_rgb,
)

SPECS = [ColourSpec(matrix=m, range=r) for m in ("bt709", "bt601") for r in ("full", "limited")]


def _rgb(seed: int = 0, shape: tuple[int, int] = (32, 48)) -> np.ndarray:
    return np.random.default_rng(seed).random((*shape, 3))


def test_known_codes_bt709_full() -> None:
    spec = ColourSpec()
    white, red = quantise(rgb_to_ycbcr(np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]), spec))
    assert white.tolist() == [255, 128, 128]  # 127.5 rounds half to even
    assert red.tolist() == [54, 98, 255]  # Y = 0.2126·255, Cb = 127.5 − 0.5·0.2126/0.9278·255


def test_limited_range_codes_bt601() -> None:
    spec = ColourSpec(matrix="bt601", range="limited")
    black, white = quantise(rgb_to_ycbcr(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), spec))
    assert black.tolist() == [16, 128, 128] and white.tolist() == [235, 128, 128]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.label())
def test_round_trip_444_float_and_8bit(spec: ColourSpec) -> None:
    rgb = _rgb()
    back = ycbcr_to_rgb(rgb_to_ycbcr(rgb, spec), spec)
    assert np.abs(back - rgb).max() < 1e-9  # far below 0.5/255
    back8 = ycbcr_to_rgb(quantise(rgb_to_ycbcr(rgb, spec)) / 255.0, spec)
    err = np.abs(back8 - rgb)
    # 8-bit Y'CbCr cannot be within 0.5/255 at every pixel (half a code of Cr moves R by (1−Kr)/255);
    # the worst case is the analytic bound and the mean error per pixel stays below half a code
    assert err.max() <= quantisation_error_bound(spec) + 1e-12
    assert err.mean() < 0.5 / 255


def test_8bit_round_trip_of_8bit_rgb_is_close_to_lossless() -> None:
    spec = ColourSpec()
    rgb8 = np.rint(_rgb(1) * 255) / 255
    back = ycbcr_to_rgb(quantise(rgb_to_ycbcr(rgb8, spec)) / 255.0, spec)
    assert np.mean(np.rint(np.clip(back, 0, 1) * 255) == rgb8 * 255) > 0.6


def test_chroma_mean_downsampling_and_upsampling() -> None:
    plane = np.arange(16, dtype=np.float64).reshape(4, 4)
    assert downsample_chroma(plane).tolist() == [[2.5, 4.5], [10.5, 12.5]]
    const = np.full((3, 5), 0.3)
    for method in ("bilinear", "nearest"):
        assert np.allclose(upsample_chroma(const, method), 0.3)
    up = upsample_chroma(np.array([[0.0, 1.0]]), "bilinear")
    assert up[0].tolist() == [0.0, 0.25, 0.75, 1.0]  # centre-sited, edge-clamped taps


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.label())
def test_420_round_trip_on_chroma_smooth_image(spec: ColourSpec) -> None:
    # constant chroma: subsampling loses nothing, so only the 8-bit rounding remains
    y = np.linspace(0.1, 0.9, 32 * 48).reshape(32, 48)
    rgb = np.clip(np.stack([y + 0.05, y, y - 0.05], axis=-1), 0, 1)
    back = yuv420_to_rgb(rgb_to_yuv420(rgb, spec), spec)
    assert back.shape == rgb.shape and back.dtype == np.float32
    assert np.abs(back - rgb).max() <= quantisation_error_bound(spec) + 1e-6
