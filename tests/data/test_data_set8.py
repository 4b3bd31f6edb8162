import shutil
from pathlib import Path

import pytest
from _data_helpers import solid, write_png

from workbench.data import set8
from workbench.data.catalog import check_dataset, open_dataset
from workbench.errors import DatasetError


@pytest.fixture(scope="module")
def frame_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_png(tmp_path_factory.mktemp("f") / "f.png", solid(540, 960, 7))


def _put(folder: Path, frame: Path, n: int = set8.MIN_FRAMES) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(n):
        shutil.copy(frame, folder / f"{t:05d}.png")


def _flat(root: Path, frame: Path) -> Path:
    for seq in set8.SEQUENCES:
        _put(root / "Set8" / seq, frame, n=3)
    return root


def test_flat_layout(tmp_path: Path, frame_png: Path) -> None:
    root = _flat(tmp_path, frame_png)
    assert set8.check_set8(root, deep=True) == []
    seqs = set8.open_set8(root, max_frames=2)
    assert [s.name for s in seqs] == list(set8.SEQUENCES)
    assert all(len(s) == 2 and s.shape == (540, 960, 3) for s in seqs)
    assert len(open_dataset("set8", root=root)) == 8  # default cut of 85 frames
    assert set8.check_set8(root / "Set8") == []  # pointing at the Set8 folder itself also works


def test_grouped_layout(tmp_path: Path, frame_png: Path) -> None:
    for group, names in set8.GROUPS.items():
        for seq in names:
            _put(tmp_path / "Set8" / group / seq, frame_png)
    assert check_dataset("set8", tmp_path) == []
    seqs = open_dataset("set8", root=tmp_path, max_frames=1)
    assert [s.name for s in seqs] == list(set8.SEQUENCES) and all(len(s) == 1 for s in seqs)
    assert "Derfs" in seqs[0].checksum_source()[0]


def test_missing_root_says_where_to_get_it(tmp_path: Path) -> None:
    problems = set8.check_set8(tmp_path)
    assert len(problems) == 1 and "Set8 not found" in problems[0]
    assert "fastdvdnet" in problems[0] and "<root>/Set8/<seq>/<frames>" in problems[0]
    with pytest.raises(DatasetError, match="Set8 not found"):
        set8.open_set8(tmp_path)


def test_mislaid_set8(tmp_path: Path, frame_png: Path) -> None:
    _put(tmp_path / "Set8", frame_png)  # frames directly in Set8/
    _put(tmp_path / "Set8" / "tractor", frame_png)
    _put(tmp_path / "Set8" / "GoPro" / "tractor" / "x", frame_png)  # Derf sequence in the GoPro group
    _put(tmp_path / "Set8" / "extra_seq", frame_png)
    (tmp_path / "Set8" / "park_joy").mkdir()
    write_png(tmp_path / "Set8" / "sunflower" / "00000.png", solid(270, 480))
    write_png(tmp_path / "Set8" / "touchdown" / "00000.png", solid(540, 960))
    write_png(tmp_path / "Set8" / "touchdown" / "00001.png", solid(541, 960))
    problems = set8.check_set8(tmp_path)
    text = "\n".join(problems)
    assert "frames lie directly in Set8/" in text
    assert "GoPro/tractor: tractor belongs in Set8/Derfs" in text
    assert "duplicate of" in text
    assert "extra_seq: unexpected folder" in text
    assert "park_joy: no frames" in text
    assert "sunflower: frames are 480x270 but Set8 is 960x540" in text
    assert "touchdown: mixed frame sizes" in text
    for seq in set8.GOPRO:
        assert f"Set8 sequence {seq!r} missing" in text
    assert all("\n" not in p for p in problems)
    with pytest.raises(DatasetError):
        open_dataset("set8", root=tmp_path)


def test_deep_check_finds_corrupt_frame(tmp_path: Path, frame_png: Path) -> None:
    root = _flat(tmp_path, frame_png)
    bad = root / "Set8" / "rafting" / "00001.png"
    bad.write_bytes(frame_png.read_bytes()[:-500])
    assert set8.check_set8(root) == []  # header still fine
    problems = set8.check_set8(root, deep=True)
    assert len(problems) == 1 and problems[0].startswith(f"{bad}: corrupt or unreadable frame")
