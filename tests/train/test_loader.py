"""``loader_workers``: 0 trains exactly as before the key existed; N > 0 reads the very same clips in worker
processes, so the loss log is the same, and a killed run with workers resumes identically (CPU, tiny data:
embedded-train, 3 steps, patch 32)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from baselines.fastdvdnet import FastDVDNet
from workbench.config import config_hash, from_mapping, to_mapping
from workbench.data.catalog import open_dataset
from workbench.data.sequence import Sequence
from workbench.errors import ConfigError, TrainingError
from workbench.train.loader import PrefetchLoader
from workbench.train.loop import train
from workbench.train.sampler import ClipSampler
from workbench.train.spec import TrainSpec

#: ``loss.csv`` of :func:`_run` with ``loader_workers: 0``, recorded at commit d81fe2f (before the key existed)
LOG_BEFORE = """step,loss,l2,aux,lr,noise_sigma_mean,val_psnr_db,zero_bin_share,q_mean,sigma_mean,bpp
1,1.62499,1.62499,0,0.001,34.275,,,,,
2,1.41915,1.41915,0,0.001,25.277,,,,,
3,1.26475,1.26475,0,0.001,29.620,,,,,
"""
#: ``config_hash(TrainSpec())`` at commit d81fe2f: the new keys at their defaults leave every hash unchanged
HASH_BEFORE = "bed8807e87cf5750a8edfc2e71320132f91dd89095f3bf541c621cfed774f019"


@pytest.fixture(scope="module")
def seqs() -> list[Sequence]:
    return open_dataset("embedded-train", max_frames=8)


def _spec(**kw: object) -> TrainSpec:
    base: dict[str, object] = dict(steps=3, batch_size=2, patch_size=32, log_every=1, checkpoint_every=3, seed=5)
    base.update(kw)
    return TrainSpec(**base)  # type: ignore[arg-type]


def _run(seqs: list[Sequence], out: Path, **kw: object) -> tuple[str, FastDVDNet]:
    torch.manual_seed(0)
    model = FastDVDNet(base_channels=8)
    train(model=model, spec=_spec(**kw), train_sequences=seqs, out_dir=out, progress=False)
    return (out / "loss.csv").read_text(), model


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_zero_workers_logs_what_the_loop_logged_before(tmp_path: Path, seqs: list[Sequence],
                                                        one_torch_thread: None) -> None:
    log, _ = _run(seqs, tmp_path)
    assert log == LOG_BEFORE


def test_workers_give_the_same_loss_log_and_weights(tmp_path: Path, seqs: list[Sequence],
                                                    one_torch_thread: None) -> None:
    plain, m0 = _run(seqs, tmp_path / "w0")
    workers, m2 = _run(seqs, tmp_path / "w2", loader_workers=2)
    assert workers == plain
    assert _same_weights(m0, m2)


@pytest.mark.parametrize("before,after", [(2, 2), (0, 2)])
def test_a_killed_run_with_workers_resumes_identically(tmp_path: Path, seqs: list[Sequence], before: int,
                                                       after: int, one_torch_thread: None) -> None:
    """Killed after the step-2 checkpoint, resumed in a fresh process (the checkpoint's config hash ignores
    the worker count, so a run may also resume with workers it did not start with)."""
    straight, m_straight = _run(seqs, tmp_path / "straight")
    torch.manual_seed(0)
    r1 = train(model=FastDVDNet(base_channels=8), spec=_spec(loader_workers=before, checkpoint_every=2),
               train_sequences=seqs, out_dir=tmp_path / "b", stop_after=2, progress=False)
    assert r1.steps == 2
    torch.manual_seed(1)  # a fresh process: the weights come from the checkpoint only
    resumed = FastDVDNet(base_channels=8)
    r2 = train(model=resumed, spec=_spec(loader_workers=after, checkpoint_every=2), train_sequences=seqs,
               out_dir=tmp_path / "b", progress=False)
    assert (r2.resumed_from, r2.steps, r2.loader_workers) == (2, 3, after)
    assert (tmp_path / "b" / "loss.csv").read_text() == straight
    assert _same_weights(m_straight, resumed)


def test_draw_then_clip_is_sample(seqs: list[Sequence]) -> None:
    sampler = ClipSampler(sequences=seqs, clip_frames=3, patch_size=32)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    drawn = torch.stack([sampler.clip(i) for i in sampler.draw(4, g1)])
    assert torch.equal(drawn, sampler.sample(4, g2))
    assert torch.equal(g1.get_state(), g2.get_state())


def test_new_keys_at_their_defaults_leave_the_hash_and_the_yaml_unchanged() -> None:
    assert config_hash(TrainSpec()) == HASH_BEFORE
    assert "loader_workers" not in to_mapping(TrainSpec()) and "precision" not in to_mapping(TrainSpec())
    set_keys = to_mapping(TrainSpec(loader_workers=4, precision="bf16"))
    assert (set_keys["loader_workers"], set_keys["precision"]) == (4, "bf16")
    assert config_hash(TrainSpec(precision="bf16")) != HASH_BEFORE


def test_bad_values_name_the_key() -> None:
    with pytest.raises(ConfigError, match="loader_workers"):
        from_mapping(TrainSpec, {"loader_workers": -1}, where="run.yaml")
    with pytest.raises(ConfigError, match=r"precision.*fp16"):
        from_mapping(TrainSpec, {"precision": "fp16"}, where="run.yaml")


def test_a_look_ahead_out_of_step_with_the_loop_stops_with_one_line(seqs: list[Sequence]) -> None:
    """The loop draws σ after the clips; a look-ahead that replays nothing prefetches other clips."""
    sampler = ClipSampler(sequences=seqs, clip_frames=3, patch_size=32)
    g = torch.Generator().manual_seed(3)
    loader = PrefetchLoader(sampler=sampler, batch=2, workers=1, g=g, steps=2, replay=lambda _: None)
    try:
        assert torch.equal(loader.sample(2, g), sampler.sample(2, torch.Generator().manual_seed(3)))
        torch.rand(2, generator=g)  # the loop's σ draw, which the look-ahead did not replay
        with pytest.raises(TrainingError, match="batch 2 are not the ones the loop drew"):
            loader.sample(2, g)
    finally:
        loader.close()
