"""The training degradations: AWGN draws exactly what the loop always drew; raw-iso adds Poisson–Gaussian
noise of one CRVD ISO per clip; raw-pair splits stacked CRVD pairs; raw training runs end to end."""

import pytest
import torch

from workbench.data.crvd import STACK_CHANNELS
from workbench.data.sensors import CRVD_ISOS
from workbench.degrade.awgn import add_training_noise, sample_training_sigma
from workbench.degrade.raw_noise import normalized_params
from workbench.errors import ConfigError
from workbench.train.degradation import degrade_batch, level_map
from workbench.train.spec import TrainSpec


def test_awgn_path_draws_as_before() -> None:
    clean = torch.rand(3, 2, 3, 8, 8)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    noisy, target, level = degrade_batch("awgn", clean, g1, sigma_min=5, sigma_max=55, isos=CRVD_ISOS)
    sigma = sample_training_sigma(3, g2, 5, 55)
    torch.testing.assert_close(level, sigma)
    torch.testing.assert_close(noisy, add_training_noise(clean, sigma, g2), rtol=0, atol=0)
    assert target is clean and level_map("awgn", level, height=8, width=8, device="cpu").shape == (3, 1, 8, 8)


def test_raw_iso_levels_are_crvd_parameters() -> None:
    clean = torch.full((64, 1, 4, 8, 8), 0.3)
    noisy, _, level = degrade_batch("raw-iso", clean, torch.Generator().manual_seed(0), sigma_min=5, sigma_max=55,
                                    isos=(1600, 25600))
    allowed = torch.tensor([normalized_params(i) for i in (1600, 25600)])  # float32, as drawn
    assert all(any(torch.equal(row, a) for a in allowed) for row in level)
    assert len({tuple(x) for x in level.tolist()}) == 2  # both ISOs drawn among 64 clips
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, clean)
    assert level_map("raw-iso", level, height=8, width=8, device="cpu").shape == (64, 2, 8, 8)


def test_raw_pair_splits_the_stack() -> None:
    stacked = torch.rand(2, 3, STACK_CHANNELS, 4, 4)
    noisy, clean, level = degrade_batch("raw-pair", stacked, torch.Generator(), sigma_min=5, sigma_max=55,
                                        isos=CRVD_ISOS)
    assert torch.equal(noisy, stacked[:, :, :4]) and torch.equal(clean, stacked[:, :, 4:8])
    assert torch.equal(level, stacked[:, 0, 8:10, 0, 0])


def test_raw_noise_keys_are_checked() -> None:
    with pytest.raises(ConfigError, match="noise"):
        TrainSpec(noise="poisson").validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="isos"):
        TrainSpec(noise="raw-iso", isos=[100]).validate()
    with pytest.raises(ConfigError, match="val_every"):
        TrainSpec(noise="raw-iso", val_every=5).validate()


def test_raw_training_runs_and_resumes(tmp_path) -> None:
    from baselines.emvd import EMVD
    from workbench.data.catalog import open_dataset
    from workbench.train.loop import train

    spec = TrainSpec(dataset="embedded-raw-train", noise="raw-iso", augment=False, steps=3, batch_size=2,
                     patch_size=16, clip_frames=2, log_every=1, checkpoint_every=1)
    torch.manual_seed(0)
    model = EMVD(channels=4, feat_layers=1)
    seqs = open_dataset("embedded-raw-train", max_frames=4)
    result = train(model=model, spec=spec, train_sequences=seqs, out_dir=tmp_path / "run", progress=False)
    assert result.steps == 3 and float(result.last_log["noise_sigma_mean"]) > 0
