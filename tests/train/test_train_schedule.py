"""The training loop follows its recipe: compression diagnostics in the log, the motion network's own
learning rate and frozen start, loss weights only where the model has the term, a non-finite loss stops."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.fastdvdnet import FastDVDNet
from workbench.data.sequence import ArraySequence
from workbench.errors import TrainingError
from workbench.models.ncfl.presets import ncfl_model
from workbench.train.loop import STAT_FIELDS, train
from workbench.train.spec import AuxStage, MotionSpec, TrainSpec


def _seqs() -> list[ArraySequence]:
    rng = np.random.default_rng(0)
    base = rng.random((1, 32, 32, 3)).astype(np.float32)
    return [ArraySequence("s", np.repeat(base, 5, axis=0) * 0.8 + 0.1)]


def _spec(**kw: object) -> TrainSpec:
    base: dict[str, object] = dict(steps=4, batch_size=1, patch_size=16, clip_frames=3, lr=1e-3, log_every=1,
                                   checkpoint_every=4, seed=0,
                                   aux_stages=[AuxStage(until=0.5, weights={"ce_bpp": 1e-4}),
                                               AuxStage(until=1.0, weights={"ce_bpp": 1e-5})])
    base.update(kw)
    return TrainSpec(**base)  # type: ignore[arg-type]


def _log(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("preset", ["fixedq", "adapq"])
def test_log_records_zero_bin_share_q_sigma_and_bpp(tmp_path: Path, preset: str) -> None:
    torch.manual_seed(0)
    model = ncfl_model(preset=preset, width_scale=0.125, cab_blocks=1)
    result = train(model=model, spec=_spec(), train_sequences=_seqs(), out_dir=tmp_path, progress=False)
    rows = _log(tmp_path / "loss.csv")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    for r in rows:
        share, q, sigma, bpp = (float(r[k]) for k in STAT_FIELDS)
        assert 0.0 <= share <= 1.0 and q > 0 and sigma > 0 and bpp > 0
        if preset == "fixedq":
            assert q == pytest.approx(1.0)  # FixedQ's step is the constant of the paper
    assert result.aux_terms == ["ce_bpp"]
    assert float(rows[0]["aux"]) > 0


def test_a_model_without_the_term_trains_on_l2_under_the_same_recipe(tmp_path: Path) -> None:
    torch.manual_seed(0)
    result = train(model=FastDVDNet(), spec=_spec(steps=2), train_sequences=_seqs(), out_dir=tmp_path,
                   progress=False)
    rows = _log(tmp_path / "loss.csv")
    assert result.aux_terms == [] and all(float(r["aux"]) == 0 for r in rows)
    assert all(r[k] == "" for r in rows for k in STAT_FIELDS)


def test_motion_group_lr_and_frozen_start(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ncfl_model(preset="Mb", width_scale=0.125, cab_blocks=1)
    before = {k: v.clone() for k, v in model.spynet.state_dict().items()}
    other = {k: v.clone() for k, v in model.restoration.state_dict().items()}
    spec = _spec(steps=2, motion=MotionSpec(init="none", lr_mult=0.125, frozen_until=0.9))  # both steps frozen
    train(model=model, spec=spec, train_sequences=_seqs(), out_dir=tmp_path / "frozen", progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.spynet.state_dict().items())
    assert any(not torch.equal(other[k], v) for k, v in model.restoration.state_dict().items())
    assert all(p.requires_grad for p in model.spynet.parameters())  # unfrozen after the run
    state = torch.load(tmp_path / "frozen" / "checkpoint.pt", weights_only=True)
    groups = {g["name"]: g for g in state["optim"]["param_groups"]}
    assert groups["motion"]["lr"] == pytest.approx(groups["main"]["lr"] * 0.125)


def test_lr_and_weights_follow_fractions_of_the_run() -> None:
    spec = _spec(steps=100, lr=1e-3, lr_milestones=[0.8], lr_gamma=0.25)
    assert spec.lr_at(79) == pytest.approx(1e-3) and spec.lr_at(80) == pytest.approx(2.5e-4)
    assert spec.aux_weights_at(49) == {"ce_bpp": 1e-4} and spec.aux_weights_at(50) == {"ce_bpp": 1e-5}
    spec.steps = 10  # what --set train.steps=10 does: the same shape at another length
    assert spec.lr_at(7) == pytest.approx(1e-3) and spec.lr_at(8) == pytest.approx(2.5e-4)
    assert spec.schedule()["aux_stage_ends"] == [[5, {"ce_bpp": 1e-4}], [10, {"ce_bpp": 1e-5}]]


def test_a_non_finite_loss_stops_with_one_line(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = FastDVDNet()
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingError, match="loss is nan at step 1"):
        train(model=model, spec=_spec(steps=2), train_sequences=_seqs(), out_dir=tmp_path, progress=False)
