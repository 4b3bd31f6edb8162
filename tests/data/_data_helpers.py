"""Small image/video writers shared by the data tests (fixtures are generated in tmp_path)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from workbench.ffmpeg import ffmpeg_exe


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", compress_level=1)
    return path


def solid(h: int, w: int, value: int = 0) -> np.ndarray:
    return np.full((h, w, 3), value, dtype=np.uint8)


def write_lossless_video(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    """Encode uint8 (T, H, W, 3) RGB frames losslessly (FFV1 in Matroska) with the ffmpeg binary."""
    t, h, w, _ = frames.shape
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "pipe:0", "-c:v", "ffv1",
           "-pix_fmt", "bgr0", str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True, timeout=120)
    return path
