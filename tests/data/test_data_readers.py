from pathlib import Path

import numpy as np
import pytest
import tifffile
from _data_helpers import solid, write_png

from workbench.data.frameformat import ANY_FRAMES
from workbench.data.readers import FolderSequence, list_frames
from workbench.errors import DatasetError


def test_sort_order_follows_digits_not_text(tmp_path: Path) -> None:
    for n in (10, 2, 1, 33):
        write_png(tmp_path / f"frame{n}.png", solid(4, 6, n))
    names = [p.name for p in list_frames(tmp_path)]
    assert names == ["frame1.png", "frame2.png", "frame10.png", "frame33.png"]
    seq = FolderSequence(root=tmp_path)
    assert seq.name == tmp_path.name and len(seq) == 4 and seq.shape == (4, 6, 3)
    assert [round(float(f[0, 0, 0]) * 255) for f in seq.frames()] == [1, 2, 10, 33]
    assert seq.checksum_source() == [str(tmp_path / n) for n in names]


def test_dtype_scaling_and_declared_gray_to_rgb(tmp_path: Path) -> None:
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 51, 0
    write_png(tmp_path / "00000.png", rgb)
    gray16 = np.full((4, 6), 65535 // 5, np.uint16)
    tifffile.imwrite(tmp_path / "00001.tif", gray16)
    seq = FolderSequence(root=tmp_path, name="s", frames=ANY_FRAMES)  # declares 16-bit and grey frames
    f0, f1 = seq.frame(0), seq.frame(1)
    assert f0.dtype == np.float32 and f0.shape == (4, 6, 3)
    np.testing.assert_allclose(f0[0, 0], [1.0, 0.2, 0.0], atol=1e-7)
    assert f1.shape == (4, 6, 3) and np.allclose(f1, 0.2, atol=1e-7)  # 13107 / 65535 = 0.2


def test_corrupt_frame_names_the_file(tmp_path: Path) -> None:
    write_png(tmp_path / "00000.png", solid(4, 6))
    (tmp_path / "00001.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    seq = FolderSequence(root=tmp_path)
    seq.frame(0)
    with pytest.raises(DatasetError, match=r"00001\.png: corrupt or unreadable frame .*re-extract"):
        seq.frame(1)


def test_truncated_png_is_corrupt(tmp_path: Path) -> None:
    noise = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    good = write_png(tmp_path / "00000.png", noise)
    (tmp_path / "00001.png").write_bytes(good.read_bytes()[:-200])
    with pytest.raises(DatasetError, match=r"00001\.png"):
        FolderSequence(root=tmp_path).frame(1)


def test_mixed_sizes_name_file_and_both_sizes(tmp_path: Path) -> None:
    write_png(tmp_path / "00000.png", solid(4, 6))
    write_png(tmp_path / "00001.png", solid(5, 6))
    seq = FolderSequence(root=tmp_path)
    with pytest.raises(DatasetError, match=r"00001\.png: frame is 6x5 but 00000\.png is 6x4"):
        seq.frame(1)


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no frames here")
    with pytest.raises(DatasetError, match="no frames"):
        FolderSequence(root=tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        FolderSequence(root=tmp_path / "absent")


def test_limit_truncates(tmp_path: Path) -> None:
    for n in range(5):
        write_png(tmp_path / f"{n:05d}.png", solid(2, 2, n))
    seq = FolderSequence(root=tmp_path).limit(3)
    assert len(seq) == 3 and len(seq.checksum_source()) == 3
