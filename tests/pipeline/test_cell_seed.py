"""A cell's seed drives the model's initialisation and the training sampler, never the test noise."""

import inspect

import torch

from workbench.config import from_mapping
from workbench.data.catalog import open_dataset
from workbench.degrade.awgn import noise_seed
from workbench.pipeline.restoration import RestorationCell
from workbench.pipeline.spec import expand, load_spec
from workbench.train.sampler import ClipSampler
from workbench.train.spec import TrainSpec


def _cell(seed: int) -> RestorationCell:
    return from_mapping(RestorationCell, {"method": "m", "model": "fastdvdnet", "seed": seed,
                                          "train": {"steps": 2}}, where="test")


def test_the_cell_seed_replaces_the_recipe_seed() -> None:
    assert _cell(0).train.seed == 0 and _cell(2).train.seed == 2
    assert isinstance(_cell(1).train, TrainSpec)


def test_seeds_draw_other_training_clips_but_the_same_test_noise() -> None:
    seqs = open_dataset("embedded-train", max_frames=6)
    sampler = ClipSampler(sequences=seqs, clip_frames=3, patch_size=32)
    draws = [sampler.sample(2, torch.Generator().manual_seed(_cell(s).train.seed)) for s in (0, 1)]
    assert not torch.equal(draws[0], draws[1])
    # the test noise is seeded by (dataset, sequence, sigma) alone: no seed of the cell can reach it
    assert list(inspect.signature(noise_seed).parameters) == ["dataset", "sequence", "sigma"]


def test_mini_tables_5_and_6_train_every_model_with_three_seeds() -> None:
    for table in ("table5", "table6"):
        cells = expand(load_spec(table), "mini")
        seeds: dict[str, set[int]] = {}
        for _, _, p in cells:
            seeds.setdefault(p.method, set()).add(p.train.seed)
            assert p.train.seed == p.seed
        assert all(s == {0, 1, 2} for s in seeds.values()), seeds
