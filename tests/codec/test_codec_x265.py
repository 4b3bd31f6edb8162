"""x265 through ffmpeg: exact bpp, verbatim command, deterministic bitstreams, missing-tool error."""

import shlex
from pathlib import Path

import numpy as np
import pytest

from workbench.codec.colour import ColourSpec, rgb_to_yuv420, yuv420_to_rgb
from workbench.codec.x265 import X265Settings, bits_per_pixel, encode_decode
from workbench.errors import ToolError
from workbench.evaluate.metrics import psnr

FAST = X265Settings(mode="qp", value=30, preset="ultrafast", tune="zerolatency", keyint=4)


def test_bpp_closed_form() -> None:
    assert bits_per_pixel(1234, 64, 48, 3) == 8 * 1234 / (64 * 48 * 3)
    assert bits_per_pixel(0, 2, 2, 1) == 0.0


@pytest.fixture
def yuv(smooth_clip):  # type: ignore[no-untyped-def]
    return lambda frames=3: [rgb_to_yuv420(f, ColourSpec()) for f in smooth_clip(frames)]


def test_encode_decode_records_command_and_exact_size(ffmpeg_path: str, tmp_path: Path, yuv, smooth_clip) -> None:
    kept = tmp_path / "kept.hevc"
    res = encode_decode(yuv(), FAST, exe=ffmpeg_path, scratch_dir=tmp_path / "s", keep_bitstream=kept)
    assert res.num_bytes == kept.stat().st_size and res.bits == 8 * res.num_bytes
    assert res.bpp == 8 * kept.stat().st_size / (64 * 64 * 3)
    assert kept.read_bytes()[:4] == b"\x00\x00\x00\x01"  # raw Annex-B elementary stream, no container
    assert shlex.split(res.command) == res.argv and res.argv[0] == ffmpeg_path
    i = res.argv.index("-x265-params")
    assert res.argv[i + 1] == "qp=30:keyint=4:min-keyint=4:scenecut=0:pools=1:frame-threads=1:info=0"
    for flag, value in (
        ("-f", "hevc"),
        ("-preset", "ultrafast"),
        ("-tune", "zerolatency"),
        ("-pix_fmt", "yuv420p"),
        ("-s", "64x64"),
        ("-vcodec", "libx265"),
    ):
        assert value in res.argv[res.argv.index(flag) :], flag
    assert not list((tmp_path / "s").iterdir())  # scratch files removed
    rec = yuv420_to_rgb(res.decoded[0], ColourSpec())
    assert psnr(smooth_clip(1)[0], np.clip(rec, 0, 1)) > 28.0


def test_same_input_same_bitstream(ffmpeg_path: str, tmp_path: Path, yuv, smooth_clip) -> None:
    slow = X265Settings(mode="qp", value=32, preset="veryslow", tune="zerolatency", keyint=10)  # the study default
    a = encode_decode(yuv(), slow, exe=ffmpeg_path, scratch_dir=tmp_path, keep_bitstream=tmp_path / "a.hevc")
    b = encode_decode(yuv(), slow, exe=ffmpeg_path, scratch_dir=tmp_path, keep_bitstream=tmp_path / "b.hevc")
    assert a.num_bytes == b.num_bytes
    assert (tmp_path / "a.hevc").read_bytes() == (tmp_path / "b.hevc").read_bytes()


def test_crf_mode_is_separate(ffmpeg_path: str, tmp_path: Path, yuv, smooth_clip) -> None:
    crf = X265Settings(mode="crf", value=28, preset="ultrafast", keyint=4)
    res = encode_decode(yuv(2), crf, exe=ffmpeg_path, scratch_dir=tmp_path)
    assert "crf=28:" in res.command and "qp=" not in res.command and crf.rate_point() == "crf=28"


def test_broken_ffmpeg_is_a_tool_error(tmp_path: Path, yuv) -> None:
    with pytest.raises(ToolError, match="cannot run ffmpeg"):
        encode_decode(yuv(1), FAST, exe=str(tmp_path / "no-ffmpeg"), scratch_dir=tmp_path / "s")
