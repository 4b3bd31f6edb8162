"""Schema of the ``fig2`` cell kind (paper §3, Fig. 2: codecs as denoisers at σ = 20)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from workbench.codec.colour import ColourSpec
from workbench.codec.compressai_import import CODEC_FORMATS, CodecCheckpointRef
from workbench.codec.train import TrainSettings
from workbench.codec.x265 import X265Settings
from workbench.errors import ConfigError
from workbench.evaluate.restoration import validate_sigmas

X265_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")
X265_TUNES = ("psnr", "ssim", "grain", "zerolatency", "fastdecode", "animation")


@dataclass
class Fig2Params:
    """One cell of the motivation study. ``codec = "both"`` also measures the matched-bpp PSNR gap.

    Noisy input: AWGN of each σ (0–255 scale, seed from (dataset, sequence, σ)), then clipped to [0, 1]
    and rounded to 8 bits — the same 8-bit RGB clip goes to both codecs and is the "noisy" reference.
    """

    codec: Literal["x265", "learned", "both"] = "both"
    dataset: str = "embedded-test"
    sigmas: list[float] = field(default_factory=lambda: [20.0])
    max_frames: int | None = 6
    max_sequences: int | None = None
    # colour conversion (x265 path; also defines the Y' of psnr_y_db for both codecs)
    colour_matrix: Literal["bt709", "bt601"] = "bt709"
    colour_range: Literal["full", "limited"] = "full"
    chroma_up: Literal["bilinear", "nearest"] = "bilinear"
    # x265
    x265_mode: Literal["qp", "crf"] = "qp"
    qps: list[float] = field(default_factory=lambda: [27.0, 32.0, 37.0, 42.0])  # CRF values in crf mode
    preset: str = "veryslow"
    tune: str = "zerolatency"
    keyint: int = 10
    pix_fmt: Literal["yuv420p"] = "yuv420p"
    fps: int = 30
    x265_threads: int = 1
    x265_info_sei: bool = False
    ffmpeg: Literal["auto", "system"] = "auto"
    # learned hyperprior codec, trained here on clean frames ...
    lambdas: list[float] = field(default_factory=lambda: [0.0018, 0.0035, 0.0067, 0.013])
    n_channels: int = 32
    m_channels: int = 32
    train_dataset: str = "embedded-train"
    train_max_frames: int | None = None
    train_steps: int = 2000
    finetune_steps: int | None = None  # set: largest λ trains train_steps, the others start from it
    train_patch: int = 64
    train_batch: int = 8
    train_lr: float = 1e-3
    seed: int = 0
    scale_levels: int = 64
    # ... or imported: {path: FILE, format: compressai-bmshj2018-hyperprior | compressai-mbt2018-mean
    # [, label: NAME]} or a list of them (one rate point each); no training then (lambdas, n/m_channels and
    # train_* unused), and each file's sha256 keys the cell
    codec_checkpoint: CodecCheckpointRef | list[CodecCheckpointRef] | None = None
    # figure crops
    crop_size: int = 96
    crop_sequence: str = ""  # "" = first sequence

    def validate(self) -> None:
        """Range and meaning of every key; raises :class:`ConfigError` naming the key."""
        validate_sigmas("sigmas", self.sigmas)
        for key in ("max_frames", "max_sequences", "train_max_frames", "finetune_steps"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"{key}: must be at least 1 or null, got {value}")
        for key in ("keyint", "fps", "x265_threads", "n_channels", "m_channels", "train_steps", "train_patch",
                    "train_batch", "crop_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be at least 1, got {getattr(self, key)}")
        if self.scale_levels < 2:
            raise ConfigError(f"scale_levels: must be at least 2, got {self.scale_levels}")
        if self.preset not in X265_PRESETS:
            raise ConfigError(f"preset: {self.preset!r} is not one of {list(X265_PRESETS)}")
        if self.tune not in X265_TUNES:
            raise ConfigError(f"tune: {self.tune!r} is not one of {list(X265_TUNES)}")
        if self.codec in ("x265", "both"):
            if not self.qps:
                raise ConfigError(f"qps: an empty list encodes nothing (codec {self.codec!r})")
            for q in self.qps:
                if not 0 <= q <= 51:
                    raise ConfigError(f"qps: x265 {self.x265_mode.upper()} values lie in [0, 51], got {q}")
        refs = self.codec_checkpoints()
        if refs and self.codec == "x265":
            raise ConfigError("codec_checkpoint: only the learned codec uses it (codec 'x265'); remove the key "
                              "or set codec: learned / both")
        for ref in refs:
            if ref.format not in CODEC_FORMATS:
                raise ConfigError(f"codec_checkpoint.format: {ref.format!r} is not one of {CODEC_FORMATS.names()}")
            if not re.fullmatch(r"[A-Za-z0-9._-]+", ref.rate_label()):
                raise ConfigError(f"codec_checkpoint.label: {ref.rate_label()!r} may hold only letters, digits, "
                                  "'.', '_' and '-' (it names the rate point and its bitstream files)")
        labels = [r.rate_label() for r in refs]
        if len(set(labels)) < len(labels):
            raise ConfigError(f"codec_checkpoint: two files share the rate-point label in {labels}; give each a "
                              "distinct label")
        if self.codec in ("learned", "both") and not refs:
            if not self.lambdas:
                raise ConfigError(f"lambdas: an empty list trains nothing (codec {self.codec!r})")
            for lam in self.lambdas:
                if not math.isfinite(lam) or lam <= 0:
                    raise ConfigError(f"lambdas: must be finite and > 0, got {lam}")
        if not math.isfinite(self.train_lr) or self.train_lr <= 0:
            raise ConfigError(f"train_lr: must be a finite number > 0, got {self.train_lr}")

    def codec_checkpoints(self) -> list[CodecCheckpointRef]:
        """The imported codec checkpoints (empty: the codec is trained here)."""
        ref = self.codec_checkpoint
        return [] if ref is None else [ref] if isinstance(ref, CodecCheckpointRef) else list(ref)

    def colour(self) -> ColourSpec:
        return ColourSpec(matrix=self.colour_matrix, range=self.colour_range, chroma_up=self.chroma_up)

    def x265_settings(self) -> list[X265Settings]:
        return [
            X265Settings(
                mode=self.x265_mode,
                value=q,
                preset=self.preset,
                tune=self.tune,
                keyint=self.keyint,
                pix_fmt=self.pix_fmt,
                fps=self.fps,
                threads=self.x265_threads,
                info_sei=self.x265_info_sei,
            )
            for q in self.qps
        ]

    def train_settings(self) -> list[tuple[TrainSettings, float | None]]:
        """``(settings, init λ)`` per λ, largest λ first; ``init λ`` is the λ whose weights start it."""
        lams = sorted(self.lambdas, reverse=True)
        out: list[tuple[TrainSettings, float | None]] = []
        for i, lam in enumerate(lams):
            fine = self.finetune_steps is not None and i > 0
            steps = self.finetune_steps if fine and self.finetune_steps is not None else self.train_steps
            out.append(
                (
                    TrainSettings(
                        lam=lam,
                        steps=steps,
                        n=self.n_channels,
                        m=self.m_channels,
                        patch=self.train_patch,
                        batch=self.train_batch,
                        lr=self.train_lr,
                        seed=self.seed,
                    ),
                    lams[0] if fine else None,
                )
            )
        return out
