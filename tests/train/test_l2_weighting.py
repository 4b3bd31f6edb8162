"""``l2_weighting``: ``uniform`` is the plain mean the loop always took (its loss log and the spec hash are
the ones recorded before the key existed); ``inverse-variance`` and ``inverse-sigma`` weight each clip's MSE by
σ_min·σ_max/σ² and (σ_max−σ_min)/(ln(σ_max/σ_min)·σ), closed-form values below."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from baselines.fastdvdnet import FastDVDNet
from workbench.config import config_hash
from workbench.data.catalog import open_dataset
from workbench.errors import ConfigError
from workbench.train.loop import train
from workbench.train.spec import TrainSpec
from workbench.train.weighting import clip_weights, l2_term

#: ``loss.csv`` of a 3-step FastDVDNet run (``tests/train/test_loader.py``'s), and ``config_hash(TrainSpec())``,
#: both recorded at commit d81fe2f, before the key existed
LOG_BEFORE = """step,loss,l2,aux,lr,noise_sigma_mean,val_psnr_db,zero_bin_share,q_mean,sigma_mean,bpp
1,1.62499,1.62499,0,0.001,34.275,,,,,
2,1.41915,1.41915,0,0.001,25.277,,,,,
3,1.26475,1.26475,0,0.001,29.620,,,,,
"""
HASH_BEFORE = "bed8807e87cf5750a8edfc2e71320132f91dd89095f3bf541c621cfed774f019"


def test_the_weights_average_one_over_the_sampled_sigmas() -> None:
    # E[1/σ²] over U[5, 55] is 1/(5·55): a midpoint rule on 200 000 points lands within 1e-6
    n = 200_000
    sigma = 5.0 + 50.0 * (torch.arange(n, dtype=torch.float64) + 0.5) / n
    w2 = clip_weights(sigma, sigma_min=5.0, sigma_max=55.0, weighting="inverse-variance")
    assert float(w2.mean()) == pytest.approx(1.0, abs=1e-6)
    w = clip_weights(torch.tensor([5.0, 10.0, 50.0, 55.0]), sigma_min=5.0, sigma_max=55.0,
                     weighting="inverse-variance")
    assert w.tolist() == pytest.approx([11.0, 2.75, 0.11, 1.0 / 11.0])
    # E[1/σ] over U[5, 55] is ln(11)/50
    w1 = clip_weights(sigma, sigma_min=5.0, sigma_max=55.0, weighting="inverse-sigma")
    assert float(w1.mean()) == pytest.approx(1.0, abs=1e-6)
    c = 50.0 / math.log(11.0)
    w1 = clip_weights(torch.tensor([10.0, 50.0]), sigma_min=5.0, sigma_max=55.0, weighting="inverse-sigma")
    assert w1.tolist() == pytest.approx([c / 10.0, c / 50.0])


def test_the_sigma_weightings_weight_each_clip_by_its_sigma() -> None:
    frames = torch.zeros(2, 3, 4, 4)
    target = torch.stack([torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.3)])
    sigma = torch.tensor([10.0, 50.0])
    uniform = l2_term(frames, target, sigma, weighting="uniform", sigma_min=5.0, sigma_max=55.0)
    assert float(uniform) == pytest.approx((0.01 + 0.09) / 2)
    weighted = l2_term(frames, target, sigma, weighting="inverse-variance", sigma_min=5.0, sigma_max=55.0)
    assert float(weighted) == pytest.approx((2.75 * 0.01 + 0.11 * 0.09) / 2)
    c = 50.0 / math.log(11.0)
    weighted = l2_term(frames, target, sigma, weighting="inverse-sigma", sigma_min=5.0, sigma_max=55.0)
    assert float(weighted) == pytest.approx((c / 10.0 * 0.01 + c / 50.0 * 0.09) / 2)
    with pytest.raises(ValueError, match="one AWGN σ per clip"):
        l2_term(frames, target, None, weighting="inverse-variance", sigma_min=5.0, sigma_max=55.0)


def test_uniform_leaves_the_hash_and_the_loss_log_as_they_were(tmp_path: Path, one_torch_thread: None) -> None:
    assert config_hash(TrainSpec()) == HASH_BEFORE
    assert config_hash(TrainSpec(l2_weighting="inverse-variance")) != HASH_BEFORE
    seqs = open_dataset("embedded-train", max_frames=8)
    logs = {}
    for weighting in ("uniform", "inverse-variance"):
        torch.manual_seed(0)
        spec = TrainSpec(steps=3, batch_size=2, patch_size=32, log_every=1, checkpoint_every=3, seed=5,
                         l2_weighting=weighting)  # type: ignore[arg-type]
        train(model=FastDVDNet(base_channels=8), spec=spec, train_sequences=seqs, out_dir=tmp_path / weighting,
              progress=False)
        logs[weighting] = (tmp_path / weighting / "loss.csv").read_text().splitlines()
    assert "\n".join(logs["uniform"]) + "\n" == LOG_BEFORE
    first_u, first_w = (rows[1].split(",") for rows in (logs["uniform"], logs["inverse-variance"]))
    assert first_w[5] == first_u[5]  # the same σ drawn: weighting changes the loss, not the sampling
    assert float(first_w[2]) != pytest.approx(float(first_u[2]), rel=1e-3)


@pytest.mark.parametrize("weighting", ["inverse-sigma", "inverse-variance"])
@pytest.mark.parametrize("kw", [{"noise": "raw-iso"}, {"sigma_min": 0.0}, {"l2_weighting": "psnr"}])
def test_sigma_weightings_need_awgn_with_a_positive_sigma(kw: dict[str, object], weighting: str) -> None:
    spec = TrainSpec(**{"l2_weighting": weighting, **kw})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="l2_weighting"):
        spec.validate()

