"""The typed training spec: one mapping fully describes one training run.

Schedules are written as **fractions of** ``steps`` (learning-rate milestones, loss-weight stages, the
frozen start of the motion network), so a recipe run at another length (``--set train.steps=N``) keeps its
shape: the same decays and stages at the same share of the run. The resolved absolute steps are recorded
in every training log (:meth:`TrainSpec.schedule`).

Loss weights (``aux_stages``) apply to the auxiliary terms a model returns (NCFL's ``ce_bpp``, eq. 4 of the
paper); a model that returns no such term (every baseline, NCFL without a rate) trains on the L2 term
alone under the *same* recipe, so that all rows of a table share one optimiser, schedule and step count
and differ only in the switch under test. Names must be among :data:`AUX_TERMS` (a typo fails).

Execution keys (docs/scaling.md): ``loader_workers`` (worker processes that decode the training clips ahead
of the loop, :mod:`workbench.train.loader`; the same clips, so the same losses), ``precision`` (``bf16``:
autocast around the forward pass, :mod:`workbench.train.precision`) and ``compile`` (``torch.compile`` of
the network, :mod:`workbench.train.compiled`). All are left out of the config hash at their defaults
(:data:`workbench.config.OMIT_AT_DEFAULT`), so the hashes of existing runs, run folders and zoo entries are
unchanged.

The recipes the pipelines use are written once, in ``pipelines/recipes.yaml`` (see pipelines/README.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from workbench.config import OMIT_AT_DEFAULT
from workbench.data.sensors import CRVD_ISOS
from workbench.errors import ConfigError
from workbench.train.degradation import NOISE_KINDS, NoiseKind
from workbench.train.weighting import L2_WEIGHTINGS, SIGMA_WEIGHTINGS, L2Weighting

#: auxiliary loss terms a model may return (``RestorationOutput.aux``)
AUX_TERMS = ("ce_bpp",)
#: where the weights of the motion network come from (see :mod:`workbench.train.motion`)
MotionInit = Literal["none", "embedded-pretrained", "data-root"]
#: arithmetic of the forward pass (see :mod:`workbench.train.precision`)
Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


@dataclass
class AuxStage:
    """Loss weights in force until ``until`` (a fraction of ``steps`` in (0, 1]; the last stage ends at 1)."""

    until: float
    weights: dict[str, float] = field(default_factory=dict)


@dataclass
class MotionSpec:
    """The motion network (SPyNet) of models that have one (attribute ``spynet``).

    ``init``: ``none`` (random; the old behaviour, kept for tests), ``embedded-pretrained`` (the SPyNet
    pretrained here on the embedded synthetic-motion clips, cached; CPU profiles) or ``data-root`` (the
    BasicSR/MMagic SPyNet checkpoint under the data root, see :mod:`workbench.train.motion`; full profile).
    ``lr_mult`` scales the learning rate of its parameters and ``frozen_until`` (a fraction of ``steps``)
    keeps them fixed at the start: BasicVSR's recipe (flow lr × 0.125, flow fixed for the first 5000 of
    300k iterations); ``frozen_until: 1`` keeps them fixed for the whole run."""

    init: MotionInit = "none"
    lr_mult: float = 1.0
    frozen_until: float = 0.0


@dataclass
class TrainSpec:
    """Training hyper-parameters. Noise σ on the [0, 255] scale; patch size in pixels; lr for Adam."""

    #: the recipe of ``pipelines/recipes.yaml`` this spec was resolved from ("" when written inline)
    recipe: str = ""
    dataset: str = "embedded-train"
    steps: int = 100
    batch_size: int = 4
    patch_size: int = 64
    clip_frames: int = 5
    lr: float = 1e-3
    #: fractions of ``steps`` at which the learning rate is multiplied by ``lr_gamma``
    lr_milestones: list[float] = field(default_factory=list)
    lr_gamma: float = 0.1
    sigma_min: float = 5.0
    sigma_max: float = 55.0
    seed: int = 0
    aux_stages: list[AuxStage] = field(default_factory=list)
    motion: MotionSpec = field(default_factory=MotionSpec)
    augment: bool = True
    grad_clip: float | None = None
    #: batches of training clips over which BatchNorm statistics are re-estimated after the last step
    #: (:mod:`workbench.train.batchnorm`; 0 = keep the moving averages; models without BatchNorm ignore it)
    settle_bn_batches: int = 0
    log_every: int = 10
    val_every: int = 0
    val_dataset: str = "embedded-train"
    val_sequences: int = 1
    val_frames: int = 4
    val_sigma: float = 25.0
    checkpoint_every: int = 25
    max_frames_per_sequence: int | None = None
    #: worker processes decoding clips ahead of the loop (0: in the loop, as before; same clips either way)
    loader_workers: int = field(default=0, metadata=OMIT_AT_DEFAULT)
    #: ``fp32``, or ``bf16`` autocast around the forward pass (the rate and the loss reductions stay fp32)
    precision: Precision = field(default="fp32", metadata=OMIT_AT_DEFAULT)
    #: training degradation (:mod:`workbench.train.degradation`): ``awgn``, ``raw-iso`` (Poisson–Gaussian of
    #: one of ``isos`` per clip) or ``raw-pair`` (stacked CRVD pairs)
    noise: NoiseKind = field(default="awgn", metadata=OMIT_AT_DEFAULT)
    #: ISOs drawn by ``raw-iso`` (None: CRVD's five)
    isos: list[int] | None = field(default=None, metadata=OMIT_AT_DEFAULT)
    #: run the network under ``torch.compile`` (opt-in; :mod:`workbench.train.compiled`)
    compile: bool = field(default=False, metadata=OMIT_AT_DEFAULT)
    #: how the L2 term weights clips of different σ (:mod:`workbench.train.weighting`): ``uniform`` (the
    #: paper's plain mean), ``inverse-sigma`` (× a weight ∝ 1/σ) or ``inverse-variance`` (× σ_min·σ_max/σ²; AWGN)
    l2_weighting: L2Weighting = field(default="uniform", metadata=OMIT_AT_DEFAULT)

    def validate(self) -> None:
        """Range and meaning of every key; raises :class:`ConfigError` naming the key."""
        positive_ints = {"steps": self.steps, "batch_size": self.batch_size, "patch_size": self.patch_size,
                         "clip_frames": self.clip_frames, "log_every": self.log_every,
                         "checkpoint_every": self.checkpoint_every, "val_sequences": self.val_sequences,
                         "val_frames": self.val_frames}
        for key, value in positive_ints.items():
            if value < 1:
                raise ConfigError(f"{key}: must be at least 1, got {value}")
        if self.settle_bn_batches < 0:
            raise ConfigError(f"settle_bn_batches: must be 0 (off) or positive, got {self.settle_bn_batches}")
        if self.loader_workers < 0:
            raise ConfigError(f"loader_workers: must be 0 (decode in the loop) or a number of worker processes, "
                              f"got {self.loader_workers}")
        if self.noise not in NOISE_KINDS:
            raise ConfigError(f"noise: {self.noise!r} is not one of {list(NOISE_KINDS)}")
        if self.noise != "awgn" and self.val_every:
            raise ConfigError(f"val_every: the in-loop validation adds AWGN; set it to 0 with noise {self.noise!r} "
                              "(raw models are scored by their cell's evaluation)")
        unknown_isos = sorted(set(self.isos or CRVD_ISOS) - set(CRVD_ISOS))
        if self.isos == [] or unknown_isos:
            raise ConfigError(f"isos: {unknown_isos or 'empty'}; use CRVD ISOs {list(CRVD_ISOS)}")
        if self.l2_weighting not in L2_WEIGHTINGS:
            raise ConfigError(f"l2_weighting: {self.l2_weighting!r} is not one of {list(L2_WEIGHTINGS)}")
        if self.l2_weighting in SIGMA_WEIGHTINGS and (self.noise != "awgn" or self.sigma_min <= 0):
            raise ConfigError(f"l2_weighting: {self.l2_weighting} weights clips by their σ and needs noise: awgn "
                              f"with sigma_min > 0 (got noise {self.noise!r}, sigma_min {self.sigma_min})")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision: {self.precision!r} is not one of {list(PRECISIONS)}")
        if self.val_every < 0:
            raise ConfigError(f"val_every: must be 0 (off) or positive, got {self.val_every}")
        if self.max_frames_per_sequence is not None and self.max_frames_per_sequence < 1:
            raise ConfigError("max_frames_per_sequence: must be at least 1 or null, "
                              f"got {self.max_frames_per_sequence}")
        _positive("lr", self.lr)
        _positive("lr_gamma", self.lr_gamma)
        if self.grad_clip is not None:
            _positive("grad_clip", self.grad_clip, hint=" (or null for no clipping)")
        for key, sig in (("sigma_min", self.sigma_min), ("sigma_max", self.sigma_max),
                         ("val_sigma", self.val_sigma)):
            if not math.isfinite(sig) or sig < 0:
                raise ConfigError(f"{key}: noise σ must be finite and ≥ 0 (0–255 scale), got {sig}")
        if self.sigma_max < self.sigma_min:
            raise ConfigError(f"sigma_max {self.sigma_max} < sigma_min {self.sigma_min}")
        _fractions("lr_milestones", self.lr_milestones, open_end=True)
        _fractions("aux_stages[].until", [s.until for s in self.aux_stages], open_end=False)
        if self.aux_stages and self.aux_stages[-1].until != 1.0:
            raise ConfigError(f"aux_stages: the last stage must end at until: 1.0, got {self.aux_stages[-1].until}")
        for s in self.aux_stages:
            for name, w in s.weights.items():
                if name not in AUX_TERMS:
                    raise ConfigError(f"aux_stages weights: unknown term {name!r}; known: {', '.join(AUX_TERMS)}")
                if not math.isfinite(w) or w < 0:
                    raise ConfigError(f"aux_stages weights.{name}: must be finite and ≥ 0, got {w}")
        _positive("motion.lr_mult", self.motion.lr_mult)
        if not 0.0 <= self.motion.frozen_until <= 1.0:
            raise ConfigError(f"motion.frozen_until: a fraction of steps in [0, 1] (1 = never trained), "
                              f"got {self.motion.frozen_until}")

    def at_fraction(self, fraction: float) -> int:
        """The 0-based step where a schedule boundary at ``fraction`` of the run falls."""
        return int(round(fraction * self.steps))

    def lr_at(self, step: int) -> float:
        """Base learning rate at 0-based ``step`` (milestone decays applied)."""
        decays = sum(1 for m in self.lr_milestones if step >= self.at_fraction(m))
        return self.lr * self.lr_gamma**decays

    def aux_weights_at(self, step: int) -> dict[str, float]:
        """Loss weights in force at 0-based ``step`` (empty when no stage is declared)."""
        for s in self.aux_stages:
            if step < self.at_fraction(s.until):
                return dict(s.weights)
        return dict(self.aux_stages[-1].weights) if self.aux_stages else {}

    def motion_frozen_at(self, step: int) -> bool:
        return step < self.at_fraction(self.motion.frozen_until)

    def schedule(self) -> dict[str, object]:
        """The schedule in absolute steps, for logs and manifests."""
        return {"steps": self.steps, "lr": self.lr,
                "lr_milestone_steps": [self.at_fraction(m) for m in self.lr_milestones], "lr_gamma": self.lr_gamma,
                "aux_stage_ends": [[self.at_fraction(s.until), s.weights] for s in self.aux_stages],
                "motion_frozen_steps": self.at_fraction(self.motion.frozen_until),
                "motion_lr_mult": self.motion.lr_mult, "motion_init": self.motion.init}


def _positive(key: str, value: float, *, hint: str = "") -> None:
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{key}: must be a finite number > 0{hint}, got {value}")


def _fractions(key: str, values: list[float], *, open_end: bool) -> None:
    prev = 0.0
    for v in values:
        upper_ok = v < 1.0 if open_end else v <= 1.0
        if not (prev < v and upper_ok):
            bound = "(0, 1)" if open_end else "(0, 1]"
            raise ConfigError(f"{key}: fractions of steps must increase within {bound}, got {values}")
        prev = v
