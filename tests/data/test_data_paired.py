from pathlib import Path

import numpy as np
import pytest
from _data_helpers import solid, write_png

from workbench.data.paired import PairedFolderDataset, check_paired
from workbench.errors import DatasetError


def _make(root: Path, seqs: dict[str, int], hw: tuple[int, int] = (4, 6), value: int = 0) -> Path:
    for name, n in seqs.items():
        for t in range(n):
            write_png(root / name / f"{t:05d}.png", solid(*hw, value + t))
    return root


def test_pairs_match_and_stream(tmp_path: Path) -> None:
    deg = _make(tmp_path / "rainy", {"a": 3, "b": 2}, value=100)
    cln = _make(tmp_path / "clean", {"a": 3, "b": 2}, value=0)
    ds = PairedFolderDataset(degraded_root=deg, clean_root=cln)
    assert len(ds) == 2 and ds.names == ["a", "b"]
    pair = ds[0]
    assert pair.name == "a" and len(pair) == 3
    assert np.isclose(pair.degraded.frame(2)[0, 0, 0] * 255, 102)
    assert np.isclose(pair.clean.frame(2)[0, 0, 0] * 255, 2)
    limited = PairedFolderDataset(degraded_root=deg, clean_root=cln, max_frames=2).sequences()
    assert [len(p) for p in limited] == [2, 2]


def test_problems_are_reported(tmp_path: Path) -> None:
    deg = _make(tmp_path / "hazy", {"a": 3, "b": 2, "c": 1, "d": 1})
    cln = _make(tmp_path / "gt", {"a": 2, "b": 2, "d": 1, "e": 1})
    (deg / "d" / "00000.png").unlink()
    write_png(deg / "d" / "00000.png", solid(8, 6))
    (deg / "b" / "00001.png").rename(deg / "b" / "00007.png")
    with pytest.raises(DatasetError) as info:
        PairedFolderDataset(degraded_root=deg, clean_root=cln)
    first = str(info.value)
    assert "gt/c: missing" in first
    problems = check_paired(deg, cln)
    text = "\n".join(problems)
    assert "hazy/e: missing" in text
    assert "hazy/a: 3 frames but" in text
    assert "00007.png: frame number differs" in text
    assert "6x8 but clean" in text
    assert len(problems) == 5


def test_missing_roots(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="degraded root not found"):
        PairedFolderDataset(degraded_root=tmp_path / "x", clean_root=tmp_path)
