"""Run each codec over the noisy clips: one :class:`PointResult` per (codec, σ, sequence, rate point)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.atomic import write_bytes
from workbench.codec.bitstream import compress, decompress
from workbench.codec.colour import ColourSpec, rgb_to_yuv420, yuv420_to_rgb
from workbench.codec.learned import HyperpriorCodec
from workbench.codec.x265 import X265Settings, encode_decode
from workbench.evaluate.fig2.clips import NoisyClip, clip_metrics

CropFn = Callable[[NoisyClip, np.ndarray], "np.ndarray | None"]


@dataclass
class PointResult:
    method: str  # "x265" | "learned-hyperprior"
    sigma: float
    sequence: str
    rate_point: str  # "qp=32", "crf=28", "lambda=0.0067", "checkpoint=<label>"
    bpp: float  # from the real bitstream
    clean: dict[str, float]
    noisy: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)
    crop: np.ndarray | None = None


def run_x265(
    clips: list[NoisyClip],
    settings: list[X265Settings],
    spec: ColourSpec,
    *,
    exe: str,
    work_dir: Path,
    crop: CropFn,
) -> list[PointResult]:
    """Encode every noisy clip at every setting; bitstreams kept as ``work_dir/bitstreams/*.hevc``."""
    out = []
    for clip in clips:
        yuv = [rgb_to_yuv420(f, spec) for f in clip.noisy]
        for s in settings:
            name = f"{clip.sequence}_sigma{clip.sigma:g}_{s.mode}{s.value:g}.hevc"
            t0 = time.perf_counter()
            res = encode_decode(
                yuv,
                s,
                exe=exe,
                scratch_dir=work_dir / "scratch",
                keep_bitstream=work_dir / "bitstreams" / name,
            )
            seconds = time.perf_counter() - t0
            recon = np.stack([yuv420_to_rgb(f, spec) for f in res.decoded])
            out.append(
                PointResult(
                    method="x265",
                    sigma=clip.sigma,
                    sequence=clip.sequence,
                    rate_point=s.rate_point(),
                    bpp=res.bpp,
                    clean=clip_metrics(recon, clip.clean, spec),
                    noisy=clip_metrics(recon, clip.noisy, spec),
                    extra={
                        "command": res.command,
                        "command_argv": json.dumps(res.argv),
                        "decode_command": res.decode_command,
                        "x265_mode": s.mode,
                        "bytes": res.num_bytes,
                        "bits": res.bits,
                        "x265_params": s.x265_params(),
                        "preset": s.preset,
                        "tune": s.tune,
                        "keyint": s.keyint,
                        "pix_fmt": s.pix_fmt,
                        "seconds_encode_decode": seconds,
                    },
                    crop=crop(clip, recon),
                )
            )
    return out


def run_learned(
    clips: list[NoisyClip],
    models: dict[str, HyperpriorCodec],
    spec: ColourSpec,
    *,
    work_dir: Path,
    crop: CropFn,
    levels: int = 64,
) -> list[PointResult]:
    """Code every noisy clip with every model (``models``: rate point → codec, in curve order; per frame);
    check the decoded symbols are exact."""
    out = []
    for clip in clips:
        t, h, w = clip.shape
        x = torch.from_numpy(np.ascontiguousarray(clip.noisy.transpose(0, 3, 1, 2)))
        for rate_point, model in models.items():
            tag = rate_point.replace("=", "")
            t0 = time.perf_counter()
            coded = compress(model, x, levels=levels)
            t1 = time.perf_counter()
            decoded = decompress(model, coded.data, levels=levels)
            t2 = time.perf_counter()
            exact = all(np.array_equal(a, b) for a, b in zip(coded.y_symbols, decoded.y_symbols)) and all(
                np.array_equal(a, b) for a, b in zip(coded.z_symbols, decoded.z_symbols)
            )
            if not exact:
                raise RuntimeError(f"{clip.sequence} {rate_point}: decoded symbols differ from the encoded ones")
            write_bytes(work_dir / "bitstreams" / f"{clip.sequence}_sigma{clip.sigma:g}_{tag}.hpc", coded.data)
            recon = decoded.x_hat.permute(0, 2, 3, 1).numpy()
            pixels = t * h * w
            est, act = coded.estimated_bits, coded.actual_bits
            out.append(
                PointResult(
                    method="learned-hyperprior",
                    sigma=clip.sigma,
                    sequence=clip.sequence,
                    rate_point=rate_point,
                    bpp=act / pixels,
                    clean=clip_metrics(recon, clip.clean, spec),
                    noisy=clip_metrics(recon, clip.noisy, spec),
                    extra={
                        "codec_model": f"{model.family}-N{model.n}-M{model.m}-{tag}",
                        "bpp_estimated": est / pixels,
                        "bpp_actual": act / pixels,
                        "rate_gap_pct": 100.0 * (act - est) / est,
                        "bits_estimated": est,
                        "bits_actual": act,
                        "symbols_exact": exact,
                        "seconds_encode": t1 - t0,
                        "seconds_decode": t2 - t1,
                    },
                    crop=crop(clip, recon),
                )
            )
    return out
