"""Width calibration of NCFL against the paper's complexity (Table 1: 771 GFLOPs uni; Table 8: 1522 bi;
Sec. 5.4: 16 M parameters for dehazing), counted as in docs/complexity.md §1 with the workbench's one
counter (:mod:`workbench.evaluate.complexity`): 2 × thop-style MACs per 960x540 output frame, steady state
(cost(T) − cost(T−1)), SPyNet included. Meta device: no full-size tensor is made."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.evaluate.complexity.count import InputSpec, count_model
from workbench.evaluate.complexity.thop_style import count_paper
from workbench.models.base import num_parameters
from workbench.models.ncfl import build_ncfl


def test_counter_closed_form() -> None:
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    counter = count_paper(conv, lambda: conv(torch.zeros(1, 3, 10, 11)))
    assert counter.total == 8 * 5 * 6 * 3 * 9


@pytest.mark.parametrize(("name", "paper_gflops", "measured"), [("Md", 771.0, 768.22), ("bi", 1522.0, 1545.09)])
def test_default_cost_within_ten_percent_of_the_paper(name: str, paper_gflops: float, measured: float) -> None:
    with torch.device("meta"):
        model = build_ncfl(name)
    c = count_model(name, model, InputSpec(), device="meta")
    gflops = 2 * c.macs_paper / 1e9
    assert gflops == pytest.approx(measured, abs=0.01)  # the calibrated figure quoted in model.py
    assert 0.9 * paper_gflops <= gflops <= 1.1 * paper_gflops
    # GDN's functional normalisation (not seen by thop) would not move the result out of the band either
    assert 2 * c.macs_full / 1e9 <= 1.1 * paper_gflops


def test_spynet_costs_what_complexity_md_states() -> None:
    with torch.device("meta"):
        spynet = build_ncfl("Md").spynet
        x = torch.zeros(1, 3, 540, 960)
    # 167.01 GMAC per flow at 960x540 (docs/complexity.md §3); one flow per direction and frame
    assert count_paper(spynet, lambda: spynet(x, x)).total / 1e9 == pytest.approx(167.01, rel=1e-3)


def test_dehaze_preset_has_16m_parameters() -> None:
    with torch.device("meta"):
        model = build_ncfl("dehaze")
    assert 14.4e6 <= num_parameters(model) <= 17.6e6
