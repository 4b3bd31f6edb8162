"""Integer YUV→RGB, integer resampling and the stored-deflate PNG writer: closed-form checks."""

import io

import numpy as np
from PIL import Image

from workbench.data import yuv
from workbench.data.pngfile import png_bytes


def test_taps_sum_to_one_and_stay_in_the_plane() -> None:
    for n_out, n_src, sub, offset in [(160, 640, 1, 0.0), (160, 320, 2, 0.0), (96, 53, 2, 0.5), (7, 3, 1, 0.0)]:
        idx, weights = yuv.taps(n_out, n_src, 0.0, float(n_src * sub), sub=sub, offset=offset)
        assert (weights.sum(axis=1) == 1 << yuv.TAP_BITS).all() and (weights >= 0).all()
        assert idx.min() >= 0 and idx.max() <= n_src - 1


def test_limited_range_levels_map_to_full_range() -> None:
    one = 1 << 4
    y = np.array([16, 235, 126]) * one
    c = np.full(3, 128 * one)
    rgb = yuv.yuv_to_rgb(y, c, c, scale_bits=4)
    np.testing.assert_array_equal(rgb, [[0, 0, 0], [255, 255, 255], [128, 128, 128]])
    red = yuv.yuv_to_rgb(np.array([81]), np.array([90]), np.array([240]), scale_bits=0)  # BT.601 red
    assert abs(int(red[0, 0]) - 255) <= 1 and int(red[0, 1]) <= 1 and int(red[0, 2]) <= 1


def test_constant_planes_resample_to_the_same_colour() -> None:
    y = np.full((2, 36, 60), 180, np.uint8)
    u = np.full((2, 18, 30), 100, np.uint8)
    v = np.full((2, 18, 30), 150, np.uint8)
    out = yuv.yuv420_to_rgb(y, u, v, (12, 20), (0, 0, 60, 36))
    assert out.shape == (2, 12, 20, 3) and (out == out[0, 0, 0]).all()
    np.testing.assert_array_equal(out[0, 0, 0], yuv.yuv_to_rgb(np.array([180]), np.array([100]),
                                                               np.array([150]), scale_bits=0)[0])


def test_png_bytes_decode_to_the_pixels_and_depend_on_them_alone() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (300, 250, 3), dtype=np.uint8)  # > one stored block
    data = png_bytes(frame)
    assert data == png_bytes(frame.copy())
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(img), frame)


def test_ramps_stay_linear_and_chroma_is_sited_left() -> None:
    ramp = np.tile(np.arange(256, dtype=np.uint8), (1, 8, 1))  # luma value = luma column
    luma = yuv.resample_plane(ramp, (2, 64), (0, 0, 256, 8)) / 2.0**28
    np.testing.assert_array_equal(luma[0, 0, 1:-1], 4 * np.arange(1, 63) + 1.5)  # output centres 4i + 1.5
    chroma_ramp = np.tile(np.arange(0, 256, 2, dtype=np.uint8), (1, 4, 1))  # chroma j sits on luma column 2j
    chroma = yuv.resample_plane(chroma_ramp, (2, 64), (0, 0, 256, 8), sub=2, offset_xy=(0.0, 0.5)) / 2.0**28
    np.testing.assert_array_equal(chroma[0, 0, 1:-1], 4 * np.arange(1, 63) + 1.5)
