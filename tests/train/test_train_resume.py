"""Killing training mid-way and resuming gives the same final weights as an uninterrupted run (CPU)."""

import numpy as np
import pytest
import torch

from baselines.fastdvdnet import FastDVDNet
from workbench.data.sequence import ArraySequence
from workbench.errors import CheckpointError, ConfigError
from workbench.train.loop import train
from workbench.train.spec import TrainSpec


def _data():
    rng = np.random.default_rng(0)
    return [ArraySequence(f"s{i}", rng.random((7, 24, 24, 3)).astype(np.float32)) for i in range(2)]


def _spec(**kw):
    base = dict(steps=5, batch_size=2, patch_size=16, lr=1e-3, log_every=1, checkpoint_every=2, seed=3)
    base.update(kw)
    return TrainSpec(**base)


def _model():
    torch.manual_seed(0)
    return FastDVDNet()


def test_resume_after_kill_matches_uninterrupted(tmp_path):
    seqs = _data()
    straight = _model()
    train(model=straight, spec=_spec(), train_sequences=seqs, out_dir=tmp_path / "a", progress=False)

    killed = _model()
    r1 = train(model=killed, spec=_spec(), train_sequences=seqs, out_dir=tmp_path / "b", stop_after=3,
               progress=False)
    assert r1.steps == 3 and not (tmp_path / "b" / "model.pt").exists()
    resumed = _model()  # a fresh process: weights come only from the checkpoint (step 2)
    r2 = train(model=resumed, spec=_spec(), train_sequences=seqs, out_dir=tmp_path / "b", progress=False)
    assert r2.resumed_from == 2 and r2.steps == 5
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), k
    log = (tmp_path / "b" / "loss.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in log[1:]] == [1, 2, 3, 4, 5]


def test_existing_checkpoint_needs_resume_and_same_config(tmp_path):
    seqs = _data()
    train(model=_model(), spec=_spec(steps=2), train_sequences=seqs, out_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="--resume"):
        train(model=_model(), spec=_spec(steps=2), train_sequences=seqs, out_dir=tmp_path, resume=False,
              progress=False)
    with pytest.raises(CheckpointError, match="another training config"):
        train(model=_model(), spec=_spec(steps=4, lr=0.5), train_sequences=seqs, out_dir=tmp_path,
              progress=False)


def test_loss_falls_on_tiny_clip(tmp_path):
    seqs = [ArraySequence("flat", np.full((6, 24, 24, 3), 0.5, np.float32))]
    r = train(model=_model(), spec=_spec(steps=30, checkpoint_every=30, lr=3e-3), train_sequences=seqs,
              out_dir=tmp_path, progress=False)
    rows = (tmp_path / "loss.csv").read_text().splitlines()[1:]
    first, last = float(rows[0].split(",")[1]), r.final_loss
    assert last < first


def test_a_kill_between_checkpoint_and_log_loses_no_log_row(tmp_path, monkeypatch):
    """Killed right after the step-2 checkpoint is written: the resumed run's log has every step once."""
    import workbench.train.loop as loop

    seqs = _data()
    real = loop.save_training_state

    def killed_after_step_2(path, **kw):  # type: ignore[no-untyped-def]
        real(path, **kw)
        if kw["step"] == 2:
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(loop, "save_training_state", killed_after_step_2)
    with pytest.raises(KeyboardInterrupt):
        train(model=_model(), spec=_spec(), train_sequences=seqs, out_dir=tmp_path, progress=False)
    monkeypatch.setattr(loop, "save_training_state", real)
    r = train(model=_model(), spec=_spec(), train_sequences=seqs, out_dir=tmp_path, progress=False)
    assert r.resumed_from == 2
    log = (tmp_path / "loss.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in log[1:]] == [1, 2, 3, 4, 5]
