"""Counts of the zoo's architectures: FastDVDNet at 960x540 against its closed form, meta = real on a
model with SPyNet, warping and deformable alignment, and EDVR's padded counting resolution."""

from __future__ import annotations

import pytest
import torch

from baselines.basicvsrpp import BasicVSRPlusPlusUni
from baselines.edvr import EDVR
from baselines.fastdvdnet import FastDVDNet
from workbench.evaluate.complexity.audit import complexity_rows
from workbench.evaluate.complexity.count import InputSpec, count_model


def test_fastdvdnet_paper_convention_at_960x540() -> None:
    c = count_model("fastdvdnet", FastDVDNet(), InputSpec(height=540, width=960))
    # closed form (complexity.md §1): conv weight MACs 329.80 G + thop's BatchNorm rule 4 x elements
    assert c.macs_paper / 1e9 == pytest.approx(332.07, rel=1e-3)
    assert 2 * c.macs_paper / 1e9 == pytest.approx(664.1, rel=1e-3)
    assert c.full_by_op["convolution"] / 1e9 == pytest.approx(329.80, rel=1e-3)
    assert c.params == 2_479_096
    assert not c.uncounted_ops and c.counted_resolution == (540, 960)


def test_meta_equals_real_on_basicvsrpp() -> None:
    spec = InputSpec(height=64, width=64, steady_frames=2)
    torch.manual_seed(0)
    real = count_model("basicvsrpp-uni", BasicVSRPlusPlusUni(num_block=1), spec, device="cpu")
    torch.manual_seed(0)
    meta = count_model("basicvsrpp-uni", BasicVSRPlusPlusUni(num_block=1), spec, device="meta")
    assert real.full_by_op == meta.full_by_op and real.macs_paper == meta.macs_paper
    assert {"deform_conv", "grid_sampler_2d", "upsample_bilinear2d"} <= set(real.full_by_op)
    assert not real.uncounted_ops


def test_edvr_counted_at_960x544() -> None:
    def small_edvr() -> EDVR:
        return EDVR(num_feat=16, num_extract_block=1, num_reconstruct_block=1, deformable_groups=2)

    rows = complexity_rows({"edvr": small_edvr}, resolution=(960, 540))
    by_metric = {r["metric"]: r for r in rows}
    assert by_metric["gmacs_paper"]["counted_resolution"] == "960x544"
    assert by_metric["gmacs_paper"]["setting"] == "960x540"
    assert by_metric["gflops_full"]["value"] == pytest.approx(2 * by_metric["gmacs_full"]["value"])
    assert by_metric["gmacs_full"]["uncounted_ops"] == ""
    assert by_metric["gmacs_full"]["value"] > by_metric["gmacs_paper"]["value"]  # DCN main conv only in full
