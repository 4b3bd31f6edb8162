"""Deraining and dehazing benchmarks on trees the tests build: each layout of docs/protocols.md §3–4 passes
`workbench data check` and opens as degraded/clean pairs; each broken tree gives exactly one line naming the
path (exit 1 for `data check`, one line and exit 2 when a run needs it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.data.catalog import check_dataset, dataset_checksums, open_dataset
from workbench.data.paired import StackedPair, split_pair
from workbench.errors import DatasetError

SMALL = (6, 8)  # H, W of the test frames
NTU = (480, 640)


def _write(path: Path, value: int, hw: tuple[int, int] = SMALL) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((*hw, 3), value, np.uint8)
    img[0, 0] = (value * 7) % 256  # frames differ
    Image.fromarray(img).save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else \
        Image.fromarray(img).save(path)


def _video(folder: Path, names: list[str], value: int, hw: tuple[int, int] = SMALL) -> None:
    for k, name in enumerate(names):
        _write(folder / name, (value + 10 * k) % 256, hw)


def _rainsyn25(root: Path, title: str, sub: str, videos: int = 25, frames: int = 3) -> Path:
    base = root / title / sub / "test"
    for v in range(1, videos + 1):
        names = [f"{t}.png" for t in range(1, frames + 1)]
        _video(base / "input" / str(v), names, 200)
        _video(base / "processed" / str(v), names, 100)
    return base


def _all100(root: Path, videos: int = 100, frames: int = 3) -> Path:
    base = root / "RainSynAll100" / "test"
    for v in range(900, 900 + videos):
        names = [f"{t}.jpg" for t in range(1, frames + 1)]
        _video(base / "Rain_Haze" / f"{v:04d}", names, 200)
        _video(base / "GT" / f"{v:04d}", names, 100)
    (base / "Haze" / "0900").mkdir(parents=True)  # the folders RMFD's loader reads besides; not ours to check
    return base


def _nturain(root: Path, frames: int = 2) -> Path:
    base = root / "NTURain" / "Dataset_Testing_Synthetic"
    for v in ("a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"):
        names = [f"{t:05d}.jpg" for t in range(1, frames + 1)]
        _video(base / f"{v}_Rain", names, 200, NTU)
        _video(base / f"{v}_GT", names, 100, NTU)
    return base


def _revide(root: Path, frames: int = 3) -> Path:
    base = root / "REVIDE_indoor" / "Test"
    for v in ("E005", "E006", "J004", "L006", "W002", "W004"):
        names = [f"{t:05d}.JPG" for t in range(frames)]  # upper-case, from 00000
        _video(base / "hazy" / v, names, 200)
        _video(base / "gt" / v, names, 100)
    return base


BUILDERS = {
    "rainsyn-light25": lambda r: _rainsyn25(r, "RainSynLight25", "video_rain_light"),
    "rainsyn-complex25": lambda r: _rainsyn25(r, "RainSynComplex25", "video_rain_heavy"),
    "rainsyn-all100": _all100,
    "nturain": _nturain,
    "revide-indoor": _revide,
}
COUNTS = {"rainsyn-light25": 25, "rainsyn-complex25": 25, "rainsyn-all100": 100, "nturain": 8, "revide-indoor": 6}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_complete_tree_passes_and_opens_as_pairs(tmp_path: Path, cli, name: str) -> None:
    BUILDERS[name](tmp_path)
    assert check_dataset(name, tmp_path, deep=True) == []
    r = cli("data", "check", name, "--root", str(tmp_path), "--deep")
    assert r.returncode == 0 and r.stdout.strip() == f"{name}: layout OK"
    seqs = open_dataset(name, root=tmp_path)
    assert len(seqs) == COUNTS[name] and all(isinstance(s, StackedPair) and s.kind == "paired" for s in seqs)
    frame = seqs[0].frame(0)
    assert frame.shape[-1] == 6 and frame.dtype == np.float32
    degraded, clean = split_pair(frame)
    assert degraded.mean() > clean.mean()  # rainy/hazy written at 200, clean at 100
    sums = dataset_checksums(seqs[:1])
    assert len(sums) == 2 * len(seqs[0]) and any("/degraded/" in k for k in sums) and any("/clean/" in k for k in sums)
    assert len(open_dataset(name, root=tmp_path, max_frames=2)[0]) == 2


def test_nturain_names_pairs_and_training_renderings(tmp_path: Path) -> None:
    _nturain(tmp_path)
    assert [s.name for s in open_dataset("nturain", root=tmp_path)] == ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"]
    base = tmp_path / "NTURain" / "Dataset_Training_Synthetic"
    for j in ("01", "02"):
        _video(base / f"t1_Rain_{j}", ["00001.jpg", "00002.jpg"], 200, NTU)
    _video(base / "t1_GT", ["00001.jpg", "00002.jpg"], 100, NTU)
    assert check_dataset("nturain-train", tmp_path) == []
    assert [s.name for s in open_dataset("nturain-train", root=tmp_path)] == ["t1_01", "t1_02"]


def _break_missing_gt(root: Path) -> str:
    shutil.rmtree(root / "RainSynComplex25/video_rain_heavy/test/processed/7")
    return "processed/7: missing; it is the clean pair of"


def _break_count(root: Path) -> str:
    (root / "RainSynComplex25/video_rain_heavy/test/input/3/3.png").unlink()
    return "input/3: 2 frames but"


def _break_numbers(root: Path) -> str:
    folder = root / "RainSynComplex25/video_rain_heavy/test/input/4"
    (folder / "2.png").rename(folder / "5.png")
    return "frame numbers are not 1..3"


def _break_partial(root: Path) -> str:
    for role in ("input", "processed"):
        shutil.rmtree(root / f"RainSynComplex25/video_rain_heavy/test/{role}/25")
    return "24 paired videos, but RainSynComplex25 test has 25"


def _break_size(root: Path) -> str:
    _write(root / "RainSynComplex25/video_rain_heavy/test/processed/9/1.png", 100, (6, 10))
    return "mixed frame sizes"


def _break_type(root: Path) -> str:
    folder = root / "RainSynComplex25/video_rain_heavy/test/input/11"
    (folder / "1.png").unlink()
    _write(folder / "1.jpg", 200)
    return "a JPG frame (lossy"


def _break_corrupt(root: Path) -> str:
    (root / "RainSynComplex25/video_rain_heavy/test/input/12/2.png").write_bytes(b"not a png")
    return "corrupt or unreadable frame"


BROKEN = [_break_missing_gt, _break_count, _break_numbers, _break_partial, _break_size, _break_type, _break_corrupt]


@pytest.mark.parametrize("breaker", BROKEN, ids=[b.__name__[7:] for b in BROKEN])
def test_a_broken_rainsyn_tree_gives_one_line(tmp_path: Path, cli, breaker) -> None:
    _rainsyn25(tmp_path, "RainSynComplex25", "video_rain_heavy")
    expected = breaker(tmp_path)
    r = cli("data", "check", "rainsyn-complex25", "--root", str(tmp_path))
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, lines
    assert expected in lines[0] and str(tmp_path) in lines[0]
    with pytest.raises(DatasetError, match="RainSynComplex25|processed|input"):
        open_dataset("rainsyn-complex25", root=tmp_path)


def test_broken_trees_of_the_other_layouts_give_one_line(tmp_path: Path, cli) -> None:
    r = cli("data", "check", "revide-indoor", "--root", str(tmp_path))
    assert r.returncode == 1 and len(r.stdout.strip().splitlines()) == 1 and "REVIDE-indoor Test not found" in r.stdout
    _revide(tmp_path)
    (tmp_path / "REVIDE_indoor/Test/gt/L006/00001.JPG").rename(tmp_path / "REVIDE_indoor/Test/gt/L006/00003.JPG")
    lines = cli("data", "check", "revide-indoor", "--root", str(tmp_path)).stdout.strip().splitlines()
    assert len(lines) == 1 and "gt/L006: frame numbers are not 0..2" in lines[0]
    _nturain(tmp_path)
    _write(tmp_path / "NTURain/Dataset_Testing_Synthetic/b2_Rain/00002.jpg", 200, (240, 320))
    lines = cli("data", "check", "nturain", "--root", str(tmp_path)).stdout.strip().splitlines()
    assert len(lines) == 1 and "b2_Rain" in lines[0], lines
    _all100(tmp_path)
    shutil.rmtree(tmp_path / "RainSynAll100/test/Rain_Haze")
    lines = cli("data", "check", "rainsyn-all100", "--root", str(tmp_path)).stdout.strip().splitlines()
    assert len(lines) == 1 and "Rain_Haze: degraded folder of RainSynAll100 test missing" in lines[0]


def test_a_run_on_a_broken_tree_ends_in_one_line_with_exit_2(tmp_path: Path, cli, isolated) -> None:
    _revide(tmp_path)
    shutil.rmtree(tmp_path / "REVIDE_indoor/Test/gt/E006")
    r = cli("--data-root", str(tmp_path), "run", "table4", "--profile", "full", "--no-notebook")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = [line for line in r.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "gt/E006: missing" in lines[0], r.stderr
    assert not (isolated / "results" / "table4").exists()
