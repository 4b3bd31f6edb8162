"""Bad frames are refused with one line naming the file: 16-bit, grey, RGBA, palette, lossy, too short."""

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from _data_helpers import solid, write_png
from PIL import Image

from workbench.data import davis, set8
from workbench.data.frameformat import ANY_FRAMES, FrameFormat
from workbench.data.readers import FolderSequence
from workbench.data.sequence import ArraySequence, require_length
from workbench.errors import DatasetError


def _png16_rgb(path: Path, h: int, w: int) -> Path:
    """A 16-bit RGB PNG written by hand (Pillow cannot write one, and would read it as 8-bit)."""
    rows = np.full((h, w * 3), 40000, dtype=">u2").view(np.uint8).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


def _bad_frames(folder: Path) -> dict[str, Path]:
    """One RGB sequence folder with frame 1 replaced by each kind of bad frame in turn (its own folder)."""
    h, w = 4, 6
    kinds: dict[str, Path] = {}
    makers = {
        "16-bit RGB PNG": lambda p: _png16_rgb(p, h, w),
        "16-bit": lambda p: Image.fromarray(np.full((h, w), 50000, np.uint16)).save(p),
        "grey": lambda p: Image.fromarray(np.full((h, w), 9, np.uint8), mode="L").save(p),
        "RGBA": lambda p: Image.fromarray(np.full((h, w, 4), 9, np.uint8), mode="RGBA").save(p),
        "palette": lambda p: Image.fromarray(solid(h, w, 9)).convert("P").save(p),
    }
    for label, make in makers.items():
        seq = folder / label.replace(" ", "_")
        write_png(seq / "00000.png", solid(h, w, 3))
        make(seq / "00001.png")
        write_png(seq / "00002.png", solid(h, w, 3))
        kinds[label] = seq / "00001.png"
    return kinds


def _one_line(exc: pytest.ExceptionInfo[DatasetError], path: Path) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.startswith(f"{path}: "), text
    return text


@pytest.mark.parametrize("label", ["16-bit RGB PNG", "16-bit", "grey", "RGBA", "palette"])
def test_bad_pixel_formats_are_refused_by_name(tmp_path: Path, label: str) -> None:
    bad = _bad_frames(tmp_path)[label]
    seq = FolderSequence(root=bad.parent)
    seq.frame(0)
    with pytest.raises(DatasetError) as exc:
        seq.frame(1)
    text = _one_line(exc, bad)
    expected = {"16-bit RGB PNG": "16-bit RGB PNG, which Pillow would cut to 8 bits", "16-bit": "grey frame",
                "grey": "grey frame", "RGBA": "RGBA (alpha channel) frame", "palette": "palette"}[label]
    assert expected in text


def test_declared_formats_are_converted(tmp_path: Path) -> None:
    bad = _bad_frames(tmp_path)
    for label in ("16-bit", "grey", "RGBA", "palette"):
        frame = FolderSequence(root=bad[label].parent, frames=ANY_FRAMES).frame(1)
        assert frame.shape == (4, 6, 3) and frame.dtype == np.float32
    with pytest.raises(DatasetError, match="Pillow would cut to 8 bits"):
        FolderSequence(root=bad["16-bit RGB PNG"].parent, frames=ANY_FRAMES).frame(1)  # never silently cut
    grey8 = FrameFormat("a grey set", convert=("grey",))
    with pytest.raises(DatasetError, match="16-bit frame, but a grey set frames are 8-bit"):
        FolderSequence(root=bad["16-bit"].parent, frames=grey8).frame(1)
    (tmp_path / "t").mkdir()
    tifffile.imwrite(tmp_path / "t" / "00000.tif", np.full((4, 6, 3), 13107, np.uint16), photometric="rgb")
    rgb16 = FolderSequence(root=tmp_path / "t", frames=FrameFormat("a 16-bit TIFF set", bits=(16,))).frame(0)
    np.testing.assert_allclose(rgb16, 0.2, atol=1e-7)


def _set8(root: Path, n: int = set8.MIN_FRAMES) -> Path:
    frame = write_png(root / "f.png", solid(540, 960, 7))
    for seq in set8.SEQUENCES:
        (root / "Set8" / seq).mkdir(parents=True)
        for t in range(n):
            shutil.copy(frame, root / "Set8" / seq / f"{t:05d}.png")
    return root


def test_a_jpg_in_set8_is_refused(tmp_path: Path) -> None:
    root = _set8(tmp_path)
    jpg = root / "Set8" / "tractor" / "00003.jpg"
    Image.fromarray(solid(540, 960, 7)).save(jpg, quality=95)
    problems = set8.check_set8(root)
    assert problems == [f"{jpg}: a JPG frame (lossy: results would not be comparable), but Set8 frames are PNG; "
                        "use the dataset's original PNG frames, not a re-encoded copy"]
    with pytest.raises(DatasetError) as exc:
        set8.open_set8(root)
    _one_line(exc, jpg)


def test_bad_pixel_format_in_set8_is_one_line_per_sequence(tmp_path: Path) -> None:
    root = _set8(tmp_path)
    grey = root / "Set8" / "motorbike" / "00001.png"
    Image.fromarray(np.zeros((540, 960), np.uint8), mode="L").save(grey)
    Image.fromarray(np.zeros((540, 960), np.uint8), mode="L").save(root / "Set8" / "motorbike" / "00002.png")
    problems = set8.check_set8(root)
    assert len(problems) == 1 and problems[0].startswith(f"{grey}: grey frame, but Set8 frames are RGB")
    assert problems[0].endswith("(and 1 more frame(s) of motorbike)")


def test_short_set8_sequence_is_refused_by_name(tmp_path: Path) -> None:
    root = _set8(tmp_path)
    folder = root / "Set8" / "sunflower"
    for extra in ("00001.png", "00002.png"):
        (folder / extra).unlink()
    problems = set8.check_set8(root)
    assert problems == [f"{folder}: 1 frame(s), but a Set8 sequence needs at least 3; extract the complete "
                        "sequence"]
    with pytest.raises(DatasetError, match="sunflower: 1 frame"):
        set8.open_set8(root)


def test_png_in_davis_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(davis, "N_SEQUENCES", 1)
    monkeypatch.setattr(davis, "N_FRAMES", 2)
    seq = tmp_path / davis.CANDIDATES[0] / "bear"
    seq.mkdir(parents=True)
    Image.fromarray(solid(480, 854, 5)).save(seq / "00000.jpg", quality=90)
    write_png(seq / "00001.png", solid(480, 854, 5))
    assert davis.check_davis(tmp_path) == [f"{seq / '00001.png'}: a PNG frame, but DAVIS 480p frames are "
                                           "JPG/JPEG; use the dataset's original JPG/JPEG frames, not a "
                                           "re-encoded copy"]


def test_require_length_names_the_short_sequence(tmp_path: Path) -> None:
    for t in range(2):
        write_png(tmp_path / "clip" / f"{t:05d}.png", solid(4, 6))
    seqs = [ArraySequence("long", np.zeros((5, 4, 6, 3), np.float32)), FolderSequence(root=tmp_path / "clip")]
    require_length(seqs[:1], 5, what="fastdvdnet's 5-frame window")
    with pytest.raises(DatasetError) as exc:
        require_length(seqs, 5, what="fastdvdnet's 5-frame window")
    text = _one_line(exc, tmp_path / "clip")
    assert "sequence 'clip' has 2 frame(s), but fastdvdnet's 5-frame window needs at least 5" in text
    with pytest.raises(DatasetError, match=r"^long: sequence 'long' has 3 frame\(s\)"):
        require_length([seqs[0].limit(3)], 4, what="the protocol's 4 frames")
