"""Settling BatchNorm after training (precise BN): closed-form statistics, untouched weights, and the
training loop's final settling over the documented draws."""

import torch
from torch import nn

from workbench.data.catalog import open_dataset
from workbench.degrade.awgn import add_training_noise, noise_map, sample_training_sigma
from workbench.train.batchnorm import settle_batchnorm
from workbench.train.loop import train
from workbench.train.sampler import ClipSampler
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model


def test_statistics_are_the_plain_mean_over_the_batches() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.BatchNorm2d(1))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    batches = [torch.full((2, 1, 2, 2), 1.0), torch.full((2, 1, 2, 2), 3.0),
               torch.tensor([0.0, 2.0]).reshape(2, 1, 1, 1).expand(2, 1, 2, 2).contiguous()]
    it = iter(batches)
    weights = [p.detach().clone() for p in model.parameters()]
    model.eval()
    assert settle_batchnorm(model, lambda: (next(it),), 3) == 1
    bn = model[1]
    # batch means 1, 3, 1 → mean 5/3; unbiased batch variances 0, 0, 8/7 → mean 8/21
    assert torch.allclose(bn.running_mean, torch.tensor([5 / 3]))
    assert torch.allclose(bn.running_var, torch.tensor([8 / 21]))
    assert bn.momentum == 0.1 and not model.training  # restored
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True))


def test_a_model_without_batchnorm_is_untouched() -> None:
    model = nn.Conv2d(1, 1, 1)
    assert settle_batchnorm(model, lambda: (torch.zeros(1, 1, 2, 2),), 5) == 0


def test_training_ends_by_settling_over_the_documented_draws(tmp_path) -> None:  # noqa: ANN001
    """``settle_bn_batches: N`` re-estimates the statistics over N batches drawn by the training sampler
    from the generator ``seed + 0x5E77`` after the last step; a run without it keeps the moving averages."""
    seqs = open_dataset("embedded-train", max_frames=8)
    runs = {}
    for settle in (0, 4):
        model = build_model("fastdvdnet", {"base_channels": 8}, seed=0, where="test")
        spec = TrainSpec(dataset="embedded-train", steps=3, batch_size=2, patch_size=32, lr=1e-3, log_every=1,
                         checkpoint_every=100, settle_bn_batches=settle)
        train(model=model, spec=spec, train_sequences=seqs, out_dir=tmp_path / f"s{settle}", progress=False)
        runs[settle] = (model, spec)
    moving, settled = runs[0][0], runs[4][0]
    assert all(torch.equal(a, b) for a, b in zip(moving.parameters(), settled.parameters(), strict=True))
    # recompute the settled statistics by hand from the moving-average model's weights
    spec = runs[4][1]
    sampler = ClipSampler(sequences=seqs, clip_frames=5, patch_size=32)
    g = torch.Generator().manual_seed(spec.seed + 0x5E77)

    def draw():  # noqa: ANN202
        clean = sampler.sample(2, g)
        sigma = sample_training_sigma(2, g, spec.sigma_min, spec.sigma_max)
        return add_training_noise(clean, sigma, g), noise_map(sigma, height=32, width=32, device="cpu")

    settle_batchnorm(moving, draw, 4)
    for (name, a), (_, b) in zip(moving.named_buffers(), settled.named_buffers(), strict=True):
        if "running" in name:
            assert torch.allclose(a, b, atol=1e-6), name
    assert (tmp_path / "s4" / "batchnorm.txt").read_text().startswith("settled ")
    assert not (tmp_path / "s0" / "batchnorm.txt").exists()
