"""The feature probe reads NCFL's tensors without changing its outputs; t-SNE keeps separated clusters."""

import numpy as np
import pytest
import torch

from workbench.errors import ConfigError
from workbench.evaluate.analysis.embedding import identical_points, tsne_2d
from workbench.evaluate.analysis.probe import RefinerProbe
from workbench.evaluate.analysis.robustness import symbols
from workbench.models.ncfl.presets import build_ncfl


def _model(preset: str):
    torch.manual_seed(0)
    return build_ncfl(preset, width_scale=0.25, cab_blocks=1).eval()


def _frames() -> torch.Tensor:
    return torch.rand(2, 1, 3, 24, 32, generator=torch.Generator().manual_seed(0))


@torch.no_grad()
def test_probe_records_compression_tensors_and_leaves_outputs_alone():
    model, (x0, x1) = _model("Mc"), _frames()
    ref, state = model.step(x0, None)
    ref1, _ = model.step(x1, state)
    with RefinerProbe(model) as probe:
        out0, state = model.step(x0, None)
        assert probe.pop() is None  # t = 0: no previous frame, no refiner
        out1, _ = model.step(x1, state)
        rec = probe.pop()
    assert torch.equal(out1.frames, ref1.frames) and torch.equal(out0.frames, ref.frames)
    assert rec is not None and rec.latent is not None and rec.mu is not None and rec.step is not None
    assert rec.before.shape == rec.after.shape == (1, model.feat_channels, 24, 32)
    assert rec.flow_in.shape == rec.flow_out.shape == (1, 2, 24, 32)
    # the recorded pre-quantization latent reproduces the module's own zero-bin share
    share = float((symbols(rec.latent, rec.mu, rec.step) == 0).float().mean())
    assert share == pytest.approx(float(out1.stats["zero_bin_share"]), abs=1e-6)
    assert not probe._handles  # hooks removed on exit


@torch.no_grad()
def test_probe_without_compression_reads_the_refiner_output_twice():
    model, (x0, x1) = _model("Ma"), _frames()
    with RefinerProbe(model) as probe:
        _, state = model.step(x0, None)
        model.step(x1, state)
        rec = probe.pop()
    assert rec is not None and rec.latent is None
    assert torch.equal(rec.before, rec.after) and torch.equal(rec.flow_in, rec.flow_out)


def test_probe_rejects_a_bidirectional_model():
    with pytest.raises(ConfigError):
        RefinerProbe(build_ncfl("bi", width_scale=0.25, cab_blocks=1))


def test_tsne_keeps_two_far_clusters_apart():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(0, 0.1, (20, 8)), rng.normal(5, 0.1, (20, 8))])
    xy = tsne_2d(pts, perplexity=10, seed=0)
    a, b = xy[:20], xy[20:]
    gap = np.linalg.norm(a.mean(0) - b.mean(0))
    assert gap > 3 * max(a.std(0).max(), b.std(0).max())


def test_tsne_of_identical_points_is_the_origin():
    pts = np.ones((12, 4))
    assert identical_points(pts)
    assert np.array_equal(tsne_2d(pts, perplexity=30, seed=0), np.zeros((12, 2), np.float32))
