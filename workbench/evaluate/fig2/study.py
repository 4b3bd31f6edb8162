"""Fig. 2 (the paper's motivation study, §3): x265 and a learned hyperprior codec as denoisers.

``run_fig2(params, ctx)`` returns long-format rows (``level`` = ``sequence`` | ``dataset``):

- ``method`` ``x265`` / ``learned-hyperprior``: ``bpp`` (real bitstream), for the learned codec also
  ``bpp_estimated``, ``bpp_actual``, ``rate_gap_pct = 100·(actual − estimated)/estimated``; and against each
  ``reference`` (``clean`` | ``noisy``): ``psnr_db``, ``psnr_y_db``, ``ssim``;
- ``method`` ``noisy-input``: the metrics of the 8-bit noisy clip against the clean one (the anchor);
- with ``codec = "both"``: ``psnr_gap_db_at_matched_bpp`` (learned − x265, :mod:`.curves`).

Every row carries ``setting`` (``sigma=20;qp=32``), ``rate_point``, ``command`` (the verbatim x265
command line), ``colour`` (the declared conversion), ``codec_input`` and ``noise_seed``. Side files go to
``ctx.artifact_dir`` (:mod:`.artifacts`); bitstreams and trained weights to ``ctx.work_dir``.

With ``codec_checkpoint`` the learned codec is not trained: each file is imported
(:mod:`workbench.codec.compressai_import`) as the rate point ``checkpoint=<label>``, its sha256 is one of the
cell's inputs and the training set is not read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from workbench import ffmpeg as wb_ffmpeg
from workbench.codec.compressai_import import load_codec_checkpoint
from workbench.codec.learned import HyperpriorCodec
from workbench.codec.train import train_hyperprior
from workbench.config import config_hash
from workbench.context import RunContext
from workbench.data.catalog import dataset_checksums, open_dataset
from workbench.data.sequence import Sequence
from workbench.errors import CheckpointError, ConfigError
from workbench.evaluate.fig2.artifacts import compressai_json, write_crops, write_json
from workbench.evaluate.fig2.clips import CODEC_INPUT, NoisyClip, centre_crop_box, clip_metrics, make_clips
from workbench.evaluate.fig2.curves import gap_rows
from workbench.evaluate.fig2.params import Fig2Params
from workbench.evaluate.fig2.runners import PointResult, run_learned, run_x265

_METRICS = ("psnr_db", "psnr_y_db", "ssim")
#: codec settings copied from each point into its rows (x265: the command's parts; learned: the model id)
_ROW_EXTRAS = (
    "command_argv",
    "decode_command",
    "x265_mode",
    "x265_params",
    "preset",
    "tune",
    "keyint",
    "pix_fmt",
    "codec_model",
)


def _open(name: str, ctx: RunContext, max_frames: int | None, max_sequences: int | None = None) -> list[Sequence]:
    return open_dataset(name, root=ctx.data_root, max_frames=max_frames, max_sequences=max_sequences)


def input_checksums(p: Fig2Params, ctx: RunContext) -> dict[str, str]:
    """sha256 of every frame the study reads (test set, and the codec's training set when it trains) and of
    every imported codec checkpoint (``codec_checkpoint/<label>``)."""
    refs = p.codec_checkpoints() if p.codec != "x265" else []
    names = {p.dataset} | ({p.train_dataset} if p.codec != "x265" and not refs else set())
    out: dict[str, str] = {}
    for name in sorted(names):
        out.update({f"{name}/{k}": v for k, v in dataset_checksums(_open(name, ctx, None)).items()})
    for ref in refs:
        path = Path(ref.path)
        if not path.is_file():
            raise CheckpointError(f"{path}: codec checkpoint not found (key 'codec_checkpoint' of cell "
                                  f"{ctx.cell_name}); pass the path of the downloaded .pth.tar file")
        out[f"codec_checkpoint/{ref.rate_label()}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def import_models(p: Fig2Params) -> tuple[dict[str, HyperpriorCodec], dict[str, Any]]:
    """The codecs of ``codec_checkpoint`` by rate point (``checkpoint=<label>``, in the spec's order) and a note
    on each import for the cell's manifest."""
    models: dict[str, HyperpriorCodec] = {}
    notes: dict[str, Any] = {}
    for ref in p.codec_checkpoints():
        model, info = load_codec_checkpoint(ref)
        models[f"checkpoint={ref.rate_label()}"] = model
        notes[ref.rate_label()] = {"file": Path(ref.path).name, "format": ref.format, "import": info.summary()}
    return models, notes


def train_models(
    p: Fig2Params, frames: list[np.ndarray], work_dir: Path, log: Any = None, device: str = "cpu"
) -> tuple[dict[float, HyperpriorCodec], dict[str, Any]]:
    """Train (or resume/load) one codec per λ; weights cached in ``work_dir/learned/`` by config hash."""
    models: dict[float, HyperpriorCodec] = {}
    summaries: dict[str, Any] = {}
    paths: dict[float, Path] = {}
    for settings, init_lam in p.train_settings():
        key = config_hash(
            {
                "settings": asdict(settings),
                "init": init_lam and asdict(p.train_settings()[0][0]),
                "data": [p.train_dataset, p.train_max_frames],
            }
        )[:12]
        path = work_dir / "learned" / f"hyperprior-lambda{settings.lam:g}-{key}.pt"
        paths[settings.lam] = path
        init = paths[init_lam] if init_lam is not None else None
        model, summary = train_hyperprior(frames, settings, checkpoint=path, init=init, log=log, device=device)
        models[settings.lam] = model
        summaries[f"lambda={settings.lam:g}"] = {
            **summary,
            "checkpoint": path.name,
            "init": f"lambda={init_lam:g}" if init_lam else "scratch",
        }
    return models, summaries


#: what trains (or finds) the learned codec of a cell: ``(params, ctx)`` → ``({λ: codec}, {"lambda=<λ>": summary})``
Trainer = Callable[[Fig2Params, RunContext], tuple[dict[float, HyperpriorCodec], dict[str, Any]]]


def train_here(p: Fig2Params, ctx: RunContext) -> tuple[dict[float, HyperpriorCodec], dict[str, Any]]:
    """The default :data:`Trainer`: train one codec per λ on ``p.train_dataset`` in ``ctx.work_dir``."""
    train_seqs = _open(p.train_dataset, ctx, p.train_max_frames)
    frames = [f[..., :3] for s in train_seqs for f in s.frames()]
    return train_models(p, frames, ctx.work_dir, device=ctx.device)


def _point_rows(pt: PointResult, base: dict[str, Any]) -> list[dict[str, Any]]:
    row = {
        **base,
        "method": pt.method,
        "sequence": pt.sequence,
        "sigma": pt.sigma,
        "rate_point": pt.rate_point,
        "setting": f"sigma={pt.sigma:g};{pt.rate_point}",
        "command": pt.extra.get("command", ""),
        **{k: pt.extra[k] for k in _ROW_EXTRAS if k in pt.extra},
    }
    rows = [{**row, "metric": "bpp", "reference": "", "value": pt.bpp}]
    rows += [
        {**row, "metric": k, "reference": "", "value": pt.extra[k]}
        for k in ("bpp_estimated", "bpp_actual", "rate_gap_pct")
        if k in pt.extra
    ]
    for ref, metrics in (("clean", pt.clean), ("noisy", pt.noisy)):
        rows += [{**row, "metric": k, "reference": ref, "value": metrics[k]} for k in _METRICS]
    return rows


def _dataset_rows(seq_rows: list[dict[str, Any]], points: list[PointResult]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in seq_rows:
        groups.setdefault((r["method"], r["sigma"], r["rate_point"], r["metric"], r["reference"]), []).append(r)
    out = []
    for (method, sigma, rp, metric, _), rs in groups.items():
        value = float(np.mean([r["value"] for r in rs]))
        if metric == "rate_gap_pct":  # of the summed bits, not the mean of percentages
            sel = [p for p in points if p.method == method and p.sigma == sigma and p.rate_point == rp]
            est = sum(p.extra["bits_estimated"] for p in sel)
            value = 100.0 * (sum(p.extra["bits_actual"] for p in sel) - est) / est
        row = {
            **rs[0],
            "level": "dataset",
            "sequence": "",
            "value": value,
            "noise_seed": "noise_seed(dataset, sequence, sigma)",
        }
        if len({r["command"] for r in rs}) > 1:  # clips of different sizes: no single command
            row.update(command="per sequence (see sequence rows)", command_argv="")
        out.append(row)
    return out


def _anchor_rows(clips: list[NoisyClip], base: dict[str, Any], spec: Any) -> list[dict[str, Any]]:
    rows = []
    for c in clips:
        m = clip_metrics(c.noisy, c.clean, spec)
        rows += [
            {
                **base,
                **_shape(c.shape),
                "method": "noisy-input",
                "sequence": c.sequence,
                "sigma": c.sigma,
                "rate_point": "",
                "setting": f"sigma={c.sigma:g}",
                "command": "",
                "metric": k,
                "reference": "clean",
                "value": m[k],
                "noise_seed": c.seed,
            }
            for k in _METRICS
        ]
    return rows


def _shape(shape: tuple[int, int, int]) -> dict[str, int]:
    return {"frames": shape[0], "height": shape[1], "width": shape[2]}


def run_fig2(p: Fig2Params, ctx: RunContext, *, trainer: Trainer = train_here) -> list[dict[str, Any]]:
    """Run the study cell; see the module docstring for the rows and files it produces. ``trainer``
    provides the learned codec when it is not imported (default: trained here, :func:`train_here`; a
    profile with a zoo passes :func:`workbench.pipeline.codec_zoo.trainer`)."""
    spec = p.colour()
    use_x265, use_learned = p.codec in ("x265", "both"), p.codec in ("learned", "both")
    exe = wb_ffmpeg.ffmpeg_exe(prefer=p.ffmpeg) if use_x265 else ""  # fails before anything is written
    seqs = _open(p.dataset, ctx, p.max_frames, p.max_sequences)
    clips = make_clips(seqs, dataset=p.dataset, sigmas=p.sigmas)
    crop_seq = p.crop_sequence or seqs[0].name
    shapes = {c.sequence: c.shape for c in clips}
    if crop_seq not in shapes:
        raise ConfigError(f"crop_sequence {crop_seq!r} is not in {p.dataset}; known: {', '.join(shapes)}")
    t, h, w = shapes[crop_seq]
    mid, box = t // 2, centre_crop_box(h, w, p.crop_size)

    def crop(clip: NoisyClip, recon: np.ndarray) -> np.ndarray | None:
        top, left, ch, cw = box
        return recon[mid, top : top + ch, left : left + cw].copy() if clip.sequence == crop_seq else None

    points: list[PointResult] = []
    if use_x265:
        points += run_x265(clips, p.x265_settings(), spec, exe=exe, work_dir=ctx.work_dir / "x265", crop=crop)
        ctx.notes["ffmpeg"] = wb_ffmpeg.ffmpeg_version(exe)
        ctx.notes["x265"] = wb_ffmpeg.x265_version(exe)
        ctx.notes["x265_commands"] = sorted({pt.extra["command"] for pt in points if pt.method == "x265"})
    if use_learned:
        if p.codec_checkpoints():
            models, ctx.notes["learned_import"] = import_models(p)
        else:
            trained, ctx.notes["learned_training"] = trainer(p, ctx)
            models = {f"lambda={lam:g}": m for lam, m in sorted(trained.items())}
        points += run_learned(clips, models, spec, work_dir=ctx.work_dir / "learned", crop=crop, levels=p.scale_levels)

    base = {
        "dataset": p.dataset,
        "level": "sequence",
        "colour": spec.label(),
        "codec_input": CODEC_INPUT,
        "frames": t,
        "width": w,
        "height": h,
    }
    seeds = {(c.sequence, c.sigma): c.seed for c in clips}
    seq_rows = [
        r
        for pt in points
        for r in _point_rows(pt, {**base, **_shape(shapes[pt.sequence]), "noise_seed": seeds[(pt.sequence, pt.sigma)]})
    ]
    anchors = _anchor_rows(clips, base, spec)
    rows = seq_rows + _dataset_rows(seq_rows, points) + anchors + _dataset_rows(anchors, [])
    if use_x265 and use_learned:
        for sigma in p.sigmas:
            rows += [{**base, **g, "command": ""} for g in gap_rows(rows, dataset=p.dataset, sigma=float(sigma))]
    _write_artifacts(p, ctx, points, clips, crop_seq, mid, box)
    return rows


def _write_artifacts(
    p: Fig2Params,
    ctx: RunContext,
    points: list[PointResult],
    clips: list[NoisyClip],
    crop_seq: str,
    mid: int,
    box: tuple[int, int, int, int],
) -> None:
    spec = p.colour()
    for method in sorted({pt.method for pt in points}):
        for sigma in p.sigmas:
            sel = [pt for pt in points if pt.method == method and pt.sigma == sigma]
            if method == "x265":
                s = p.x265_settings()[0]
                name = f"x265-{p.preset}-{p.x265_mode}"
                desc = (
                    f"x265 via ffmpeg ({ctx.notes.get('ffmpeg')}; libx265 {ctx.notes.get('x265')}), "
                    f"-x265-params {s.mode}=<Q>:{s.x265_params().split(':', 1)[1]}, "
                    f"preset {p.preset}, tune {p.tune or 'none'}, raw .hevc size; colour {spec.label()}"
                )
            elif p.codec_checkpoints():
                formats = sorted({r.format for r in p.codec_checkpoints()})
                name = "learned-" + "+".join(formats)
                desc = (
                    f"{', '.join(formats)} weights imported from "
                    f"{', '.join(Path(r.path).name for r in p.codec_checkpoints())} "
                    "(workbench.codec.compressai_import), real ANS bitstream (constriction), per frame"
                )
            else:
                name = f"learned-hyperprior-N{p.n_channels}-M{p.m_channels}"
                desc = (
                    f"Balle 2018 scale hyperprior trained here ({p.train_dataset}, {p.train_steps} steps), "
                    "real ANS bitstream (constriction), per frame"
                )
            desc += f"; input {CODEC_INPUT}, AWGN sigma={sigma:g} on {p.dataset}"
            write_json(
                ctx.artifact_dir / f"{method}-sigma{sigma:g}.json",
                compressai_json(sel, name=name, description=desc),
            )
    top, left, ch, cw = box
    clip_by_sigma = {c.sigma: c for c in clips if c.sequence == crop_seq}
    refs = {"clean": next(iter(clip_by_sigma.values())).clean[mid, top : top + ch, left : left + cw]}
    refs.update({f"noisy-sigma{s:g}": c.noisy[mid, top : top + ch, left : left + cw] for s, c in clip_by_sigma.items()})
    write_crops(ctx.artifact_dir / "crops", sequence=crop_seq, frame=mid, box=box, references=refs, points=points)

