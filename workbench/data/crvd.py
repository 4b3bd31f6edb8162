"""CRVD (captured raw video, indoor set): layouts, layout check and paired raw sequences (docs/protocols.md §2.1).

Three layouts are accepted under ``<data root>/CRVD`` (detected in this order):

- ``flat`` (RViDeNet's test code): ``scene{s}/ISO{iso}/frame{k}_noisy{n}.tiff`` beside
  ``frame{k}_clean_and_slightly_denoised.tiff``;
- ``split`` (FloRNN): ``indoor_raw_noisy/scene{s}/ISO{iso}/frame{k}_noisy{n}.tiff`` and
  ``indoor_raw_gt/scene{s}/ISO{iso}/frame{k}_clean_and_slightly_denoised.tiff``;
- ``download`` (the archives unpacked per scene, as EMVD's code reads them):
  ``indoor_raw_noisy/indoor_raw_noisy_scene{s}/scene{s}/ISO{iso}/...`` and
  ``indoor_raw_gt/indoor_raw_gt_scene{s}/scene{s}/ISO{iso}/...``.

Facts (:data:`workbench.data.sensors.CRVD`): GBRG, black 240, white 4095, 16-bit single-channel TIFF;
scenes 1–11 (1–6 train, 7–11 test), ISO 1600–25600, frames 1–7, noisy captures 0–9, ground truth
``clean_and_slightly_denoised`` (multi-frame average + light BM3D). The check requires, for every scene,
ISO and frame, the ground truth and capture ``noisy0`` (what the test protocol reads); further captures
are used for training when present. Frame sizes must agree across the set (the real set is 1080×1920;
any even size is accepted, so the tests can build small trees).

A sequence is one (scene, ISO, capture): :class:`CRVDSequence` frames are ``(H/2, W/2, 10)`` float32 —
the packed noisy frame (4 planes ``[R, G_r, B, G_b]``, normalised, floored at 0: the network input), the
packed ground truth (normalised, **not** clipped: the metric's reference) and two planes ``[a_n, b_n]``
of the ISO's noise parameters (:mod:`workbench.degrade.raw_noise`). Stacking keeps a pair aligned through
the training sampler's crops; :func:`split_stacked` takes it apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.data.raw import network_input, normalize_raw, pack_bayer
from workbench.data.rawtiff import check_raw_tiff, read_raw_tiff
from workbench.data.sensors import CRVD, Sensor
from workbench.data.sequence import Sequence
from workbench.errors import DatasetError

SCENES = tuple(range(1, 12))
TRAIN_SCENES = tuple(range(1, 7))
TEST_SCENES = tuple(range(7, 12))
FRAMES = tuple(range(1, 8))
CAPTURES = tuple(range(10))
GT_SUFFIX = "clean_and_slightly_denoised"
LAYOUTS = ("flat", "split", "download")
STACK_CHANNELS = 10

_OBTAIN = ("CRVD comes from the RViDeNet README (github.com/cao-cong/RViDeNet: indoor_raw_noisy and "
           "indoor_raw_gt); unpack it under <data root>/CRVD in one of the layouts of docs/protocols.md §2.1, "
           "or pass --data-root / set WORKBENCH_DATA")


def crvd_dir(root: Path) -> Path:
    """``<root>/CRVD``, or ``root`` itself when it is a CRVD tree (named CRVD, or holding a layout)."""
    root = Path(root)
    if (root / "CRVD").is_dir():
        return root / "CRVD"
    return root if root.name == "CRVD" or detect_layout(root) is not None else root / "CRVD"


def detect_layout(base: Path) -> str | None:
    """``flat``, ``split`` or ``download`` from the folders present (``None``: none recognised)."""
    def has(folder: Path, prefix: str) -> bool:
        return folder.is_dir() and any(p.is_dir() and p.name.startswith(prefix) for p in folder.iterdir())

    noisy = base / "indoor_raw_noisy"
    if has(base, "scene"):
        return "flat"
    if has(noisy, "scene"):
        return "split"
    if has(noisy, "indoor_raw_noisy_scene"):
        return "download"
    return None


def folders(base: Path, layout: str, scene: int, iso: int) -> tuple[Path, Path]:
    """``(noisy folder, ground-truth folder)`` of one (scene, ISO) in ``layout``."""
    rel = Path(f"scene{scene}") / f"ISO{iso}"
    if layout == "flat":
        return base / rel, base / rel
    if layout == "split":
        return base / "indoor_raw_noisy" / rel, base / "indoor_raw_gt" / rel
    return (base / "indoor_raw_noisy" / f"indoor_raw_noisy_scene{scene}" / rel,
            base / "indoor_raw_gt" / f"indoor_raw_gt_scene{scene}" / rel)


def noisy_name(frame: int, capture: int) -> str:
    return f"frame{frame}_noisy{capture}.tiff"


def gt_name(frame: int) -> str:
    return f"frame{frame}_{GT_SUFFIX}.tiff"


def split_stacked(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stacked frame ``(..., 10)`` → ``(noisy (..., 4), clean (..., 4), params (..., 2))``."""
    return x[..., :4], x[..., 4:8], x[..., 8:10]


@dataclass
class CRVDSequence(Sequence):
    """One (scene, ISO, capture) of CRVD-layout files: stacked frames (module docstring)."""

    name: str
    scene: int
    iso: int
    noisy_files: list[Path]
    gt_files: list[Path]
    sensor: Sensor = CRVD
    kind: str = "raw-pair"

    def __post_init__(self) -> None:
        self._hw: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.gt_files)

    @property
    def shape(self) -> tuple[int, int, int]:
        if self._hw is None:
            self._hw = check_raw_tiff(self.gt_files[0])
        return (self._hw[0] // 2, self._hw[1] // 2, STACK_CHANNELS)

    def _packed(self, path: Path) -> np.ndarray:
        mosaic = read_raw_tiff(path)
        h, w, _ = self.shape
        if mosaic.shape != (2 * h, 2 * w):
            raise DatasetError(f"{path}: frame is {mosaic.shape[1]}x{mosaic.shape[0]} but "
                               f"{self.gt_files[0].name} is {2 * w}x{2 * h} (WxH); use the original files")
        s = self.sensor
        return normalize_raw(pack_bayer(mosaic, s.pattern), s.black, s.white)

    def frame(self, index: int) -> np.ndarray:
        noisy = network_input(self._packed(self.noisy_files[index]))
        clean = self._packed(self.gt_files[index])
        a_n, b_n = self.sensor.noise_at(self.iso).normalized(self.sensor.black, self.sensor.white)
        params = np.broadcast_to(np.array([a_n, b_n], dtype=np.float32), (*clean.shape[:2], 2))
        return np.concatenate([noisy, clean, params], axis=-1).astype(np.float32)

    def checksum_source(self) -> list[str]:
        return [str(p) for pair in zip(self.noisy_files, self.gt_files) for p in pair]

    def location(self) -> str:
        return str(self.gt_files[0].parent)


def _folder_problems(noisy_dir: Path, gt_dir: Path, frames: tuple[int, ...],
                     sizes: dict[tuple[int, int], Path]) -> list[str]:
    """At most one line for missing files and one for unreadable files of one (scene, ISO)."""
    for d in {noisy_dir, gt_dir}:
        if not d.is_dir():
            return [f"{d}: folder missing; every scene needs ISO1600..ISO25600 ({_OBTAIN})"]
    wanted = [gt_dir / gt_name(k) for k in frames] + [noisy_dir / noisy_name(k, 0) for k in frames]
    missing = [p for p in wanted if not p.is_file()]
    problems = []
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        problems.append(f"{missing[0]}: missing{more} in this folder; each of frame1..frame{frames[-1]} needs "
                        f"{gt_name(1).replace('frame1_', '')} and noisy0: re-extract the scene")
    bad: list[str] = []
    for p in (q for q in wanted if q.is_file()):
        try:
            sizes.setdefault(check_raw_tiff(p), p)
        except DatasetError as exc:
            bad.append(str(exc))
    if bad:
        problems.append(bad[0] + (f" (and {len(bad) - 1} more frame(s) in {gt_dir})" if len(bad) > 1 else ""))
    return problems


def check_crvd(root: Path, *, scenes: tuple[int, ...] = SCENES, sensor: Sensor = CRVD,
               frames: tuple[int, ...] = FRAMES) -> list[str]:
    """Problems of a CRVD tree, one line each naming the path and the fix (``[]``: usable)."""
    base = crvd_dir(root)
    if not base.is_dir():
        return [f"{base}: CRVD not found; {_OBTAIN}"]
    layout = detect_layout(base)
    if layout is None:
        return [f"{base}: no CRVD layout recognised (no scene*/, indoor_raw_noisy/scene*/ or "
                f"indoor_raw_noisy/indoor_raw_noisy_scene*/); {_OBTAIN}"]
    problems: list[str] = []
    sizes: dict[tuple[int, int], Path] = {}
    for s in scenes:
        dirs = [folders(base, layout, s, iso) for iso in sensor.isos]
        if not any(d.is_dir() for pair in dirs for d in pair):
            problems.append(f"{folders(base, layout, s, sensor.isos[0])[1].parent}: scene{s} missing; "
                            f"CRVD has scenes 1-11 ({_OBTAIN})")
            continue
        for noisy_dir, gt_dir in dirs:
            problems += _folder_problems(noisy_dir, gt_dir, frames, sizes)
    if len(sizes) > 1:
        desc = ", ".join(f"{w}x{h} ({p})" for (h, w), p in sizes.items())
        problems.append(f"{base}: mixed frame sizes {desc} (WxH); every CRVD frame has one size: re-extract")
    return problems


def open_crvd(root: Path, *, scenes: tuple[int, ...], captures: tuple[int, ...] = (0,),
              max_frames: int | None = None, sensor: Sensor = CRVD) -> list[CRVDSequence]:
    """Sequences of ``scenes`` × every ISO × ``captures`` (named ``scene{s}-ISO{iso}[-noisy{n}]``), after
    :func:`check_crvd` of those scenes; :class:`DatasetError` with the first problem otherwise."""
    problems = check_crvd(root, scenes=scenes, sensor=sensor)
    if problems:
        raise DatasetError(problems[0])
    base = crvd_dir(root)
    layout = detect_layout(base)
    assert layout is not None
    out = []
    for s in scenes:
        for iso in sensor.isos:
            noisy_dir, gt_dir = folders(base, layout, s, iso)
            for n in captures:
                frames = [k for k in FRAMES if (noisy_dir / noisy_name(k, n)).is_file()]
                if len(frames) < len(FRAMES):
                    continue  # captures beyond noisy0 are optional
                frames = frames[:max_frames] if max_frames else frames
                name = f"scene{s}-ISO{iso}" + (f"-noisy{n}" if len(captures) > 1 else "")
                out.append(CRVDSequence(name=name, scene=s, iso=iso, sensor=sensor,
                                        noisy_files=[noisy_dir / noisy_name(k, n) for k in frames],
                                        gt_files=[gt_dir / gt_name(k) for k in frames]))
    return out
