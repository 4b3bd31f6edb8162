"""CRVD layouts: a tree the test builds passes `workbench data check crvd`; three broken trees give one
line each; the reader returns aligned (noisy | clean | noise parameters) frames in all three layouts."""

from pathlib import Path

import numpy as np
import pytest

from workbench.data import crvd
from workbench.data.catalog import open_dataset
from workbench.data.rawtiff import write_raw_tiff
from workbench.data.sensors import CRVD_ISOS

H, W = 8, 12


def _mosaic(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(240, 4096, size=(H, W)).astype(np.uint16)


def build_tree(root: Path, layout: str = "flat", scenes=crvd.SCENES, captures=(0,)) -> Path:
    base = root / "CRVD"
    for s in scenes:
        for iso in CRVD_ISOS:
            noisy_dir, gt_dir = crvd.folders(base, layout, s, iso)
            for k in crvd.FRAMES:
                write_raw_tiff(gt_dir / crvd.gt_name(k), _mosaic(1000 * s + k))
                for n in captures:
                    write_raw_tiff(noisy_dir / crvd.noisy_name(k, n), _mosaic(1000 * s + k + 100 * (n + 1)))
    return base


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("crvd")).parent


def test_check_passes_on_built_tree(tree: Path, cli) -> None:
    r = cli("data", "check", "crvd", "--root", str(tree))
    assert r.returncode == 0 and r.stdout.strip() == "crvd: layout OK", r.stdout


def _copy(tree: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(tree, dst)
    return dst


def test_three_broken_trees_one_line_each(tree: Path, tmp_path: Path, cli) -> None:
    missing = _copy(tree, tmp_path / "a")  # 1: a ground-truth frame deleted
    (missing / "CRVD/scene8/ISO3200" / crvd.gt_name(4)).unlink()
    eight_bit = _copy(tree, tmp_path / "b")  # 2: an 8-bit frame in place of a 16-bit one
    import tifffile

    tifffile.imwrite(eight_bit / "CRVD/scene2/ISO1600" / crvd.noisy_name(1, 0), np.zeros((H, W), np.uint8))
    no_scene = _copy(tree, tmp_path / "c")  # 3: a whole scene absent
    import shutil

    shutil.rmtree(no_scene / "CRVD/scene11")
    expected = {missing: "frame4_clean_and_slightly_denoised.tiff: missing", eight_bit: "uint8",
                no_scene: "scene11 missing"}
    for root, needle in expected.items():
        r = cli("data", "check", "crvd", "--root", str(root))
        lines = r.stdout.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1, r.stdout
        assert needle in lines[0] and str(root) in lines[0], lines[0]


def test_missing_root_is_one_line(tmp_path: Path, cli) -> None:
    r = cli("data", "check", "crvd", "--root", str(tmp_path))
    assert r.returncode == 1 and len(r.stdout.strip().splitlines()) == 1 and "CRVD not found" in r.stdout


@pytest.mark.parametrize("layout", crvd.LAYOUTS)
def test_reader_in_every_layout(tmp_path: Path, layout: str) -> None:
    build_tree(tmp_path, layout, scenes=crvd.TEST_SCENES)
    assert crvd.detect_layout(tmp_path / "CRVD") == layout
    seqs = open_dataset("crvd", root=tmp_path)
    assert [s.name for s in seqs[:2]] == ["scene7-ISO1600", "scene7-ISO3200"] and len(seqs) == 25
    x = seqs[0].frame(2)
    assert x.shape == (H // 2, W // 2, 10) and len(seqs[0]) == 7
    noisy, clean, params = crvd.split_stacked(x)
    gt = _mosaic(7000 + 3)  # scene 7, frame3; GBRG: R at (1, 0)
    assert clean[0, 0, 0] == pytest.approx((int(gt[1, 0]) - 240) / 3855)
    assert noisy.min() >= 0.0  # the network input is floored at 0
    np.testing.assert_allclose(params[0, 0], [3.513262 / 3855, 11.917691 / 3855**2], rtol=1e-6)


def test_training_split_uses_every_capture(tmp_path: Path) -> None:
    build_tree(tmp_path, scenes=crvd.TRAIN_SCENES, captures=(0, 1))
    seqs = open_dataset("crvd-train", root=tmp_path)
    assert len(seqs) == 6 * 5 * 2 and seqs[1].name == "scene1-ISO1600-noisy1"
