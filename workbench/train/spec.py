"""The typed training spec (one YAML section fully describes one training run)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StageSpec:
    """One stage of a multi-stage schedule (e.g. NCFL's two-stage scheme): runs for ``steps`` steps."""

    steps: int
    lr: float
    aux_weights: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainSpec:
    """Training hyper-parameters. Noise σ on the [0, 255] scale; patch size in pixels."""

    dataset: str = "embedded-train"
    steps: int = 100
    batch_size: int = 4
    patch_size: int = 64
    clip_frames: int = 5
    lr: float = 1e-3
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1
    sigma_min: float = 5.0
    sigma_max: float = 55.0
    seed: int = 0
    aux_weights: dict[str, float] = field(default_factory=dict)
    stages: list[StageSpec] = field(default_factory=list)
    augment: bool = True
    grad_clip: float | None = None
    log_every: int = 10
    val_every: int = 0
    val_dataset: str = "embedded-train"
    val_sequences: int = 1
    val_frames: int = 4
    val_sigma: float = 25.0
    checkpoint_every: int = 25
    max_frames_per_sequence: int | None = None

    def total_steps(self) -> int:
        return sum(s.steps for s in self.stages) if self.stages else self.steps

    def stage_at(self, step: int) -> tuple[int, float, dict[str, float]]:
        """(stage index, lr before milestones, aux weights) in force at 0-based ``step``."""
        if not self.stages:
            return 0, self.lr, self.aux_weights
        end = 0
        for i, s in enumerate(self.stages):
            end += s.steps
            if step < end:
                return i, s.lr, s.aux_weights
        last = self.stages[-1]
        return len(self.stages) - 1, last.lr, last.aux_weights
