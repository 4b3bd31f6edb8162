"""SRVD: built from MOT17-layout JPEG frames with one command, read back as packed clean raw."""

from pathlib import Path

import numpy as np
from _data_helpers import write_png

from workbench.data.catalog import check_dataset, open_dataset
from workbench.data.srvd import MOT17_IDS
from workbench.data.unprocess import srgb_to_raw_dn


def _mot17(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for vid in MOT17_IDS:
        for t in range(1, 4):
            frame = rng.integers(0, 256, size=(8, 12, 3), dtype=np.uint8)
            write_png(root / "train" / f"MOT17-{vid}-FRCNN" / "img1" / f"{t:06d}.png", frame)
    return root


def test_build_srvd_command_and_reader(tmp_path: Path, cli) -> None:
    mot = _mot17(tmp_path / "MOT17")
    data = tmp_path / "data"
    assert check_dataset("srvd", data)  # absent before the build
    r = cli("data", "build-srvd", "--mot17", str(mot), "--data-root", str(data))
    assert r.returncode == 0, r.stderr
    assert check_dataset("srvd", data) == []
    seqs = open_dataset("srvd", root=data)
    assert [s.name for s in seqs] == [f"MOT17-{v}" for v in MOT17_IDS] and len(seqs[0]) == 3
    assert seqs[0].shape == (4, 6, 4)
    from PIL import Image

    rgb = np.asarray(Image.open(mot / "train/MOT17-02-FRCNN/img1/000001.png")).astype(np.float32) / 255
    dn = srgb_to_raw_dn(rgb)
    assert seqs[0].frame(0)[1, 2, 0] == np.float32((int(dn[3, 4]) - 240) / 3855.0)  # R plane at (2i+1, 2j)


def test_build_srvd_missing_input_is_one_line(tmp_path: Path, cli) -> None:
    r = cli("data", "build-srvd", "--mot17", str(tmp_path / "nope"), "--data-root", str(tmp_path))
    assert r.returncode == 2 and "MOT17-02" in r.stderr and "Traceback" not in r.stderr
