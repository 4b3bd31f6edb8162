import shutil
from pathlib import Path

import pytest
from _data_helpers import solid
from PIL import Image

from workbench.data import davis
from workbench.errors import DatasetError


@pytest.fixture()
def tiny_davis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(davis, "N_SEQUENCES", 3)
    monkeypatch.setattr(davis, "N_FRAMES", 5)


def _make(base: Path, counts: dict[str, int], tmp: Path) -> None:
    frame = tmp / "f.jpg"
    if not frame.exists():
        Image.fromarray(solid(480, 854, 90)).save(frame, quality=90)
    for seq, n in counts.items():
        (base / seq).mkdir(parents=True)
        for t in range(n):
            shutil.copy(frame, base / seq / f"{t:05d}.jpg")


@pytest.mark.parametrize("layout", list(davis.CANDIDATES))
def test_davis_layouts(tmp_path: Path, tiny_davis: None, layout: Path) -> None:
    root = tmp_path / "data"
    _make(root / layout, {"bear": 2, "boat": 2, "car": 1}, tmp_path)
    assert davis.check_davis(root) == []
    seqs = davis.open_davis(root, max_frames=1)
    assert [s.name for s in seqs] == ["bear", "boat", "car"] and seqs[0].shape == (480, 854, 3)


def test_davis_problems(tmp_path: Path, tiny_davis: None) -> None:
    root = tmp_path / "data"
    assert "DAVIS-2017 trainval 480p not found" in davis.check_davis(root)[0]
    base = root / davis.CANDIDATES[0]
    _make(base, {"bear": 2, "boat": 1}, tmp_path)
    (base / "bear" / "00001.jpg").rename(base / "bear" / "00003.jpg")
    (base / "cows").mkdir()
    Image.fromarray(solid(240, 427)).save(base / "cows" / "00000.jpg", quality=90)
    text = "\n".join(davis.check_davis(root))
    assert "frame numbers are not 0..1" in text
    assert "cows: frames are 427x240 but DAVIS 480p is 854x480" in text
    assert "4 frames in total" in text
    shutil.rmtree(base / "cows")
    assert "2 sequence folders, DAVIS-2017 trainval has 3" in "\n".join(davis.check_davis(root))
    with pytest.raises(DatasetError):
        davis.open_davis(root)
