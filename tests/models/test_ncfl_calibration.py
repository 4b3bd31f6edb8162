"""Width calibration of NCFL against the paper's complexity (Table 1: 771 GFLOPs uni; Table 8: 1522 bi;
Sec. 5.4: 16 M parameters for dehazing), counted as in shared/reference/complexity.md: 2 × thop-style conv
MACs per 960x540 output frame, steady state, SPyNet included. Meta device: no full-size tensor is made."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.models.base import num_parameters
from workbench.models.ncfl import build_ncfl
from workbench.models.ncfl._macs import count_macs, steady_state_macs


def _gflops(name: str) -> tuple[float, dict[str, int]]:
    with torch.device("meta"):
        model = build_ncfl(name)
    macs = steady_state_macs(model)
    return 2 * sum(v for k, v in macs.items() if k != "gdn") / 1e9, macs


def test_counter_closed_form() -> None:
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    macs = count_macs(conv, lambda: conv(torch.zeros(1, 3, 10, 11)))
    assert macs == {"": 8 * 5 * 6 * 3 * 9}


@pytest.mark.parametrize(("name", "paper_gflops"), [("Md", 771.0), ("bi", 1522.0)])
def test_default_cost_within_ten_percent_of_the_paper(name: str, paper_gflops: float) -> None:
    gflops, macs = _gflops(name)
    assert 0.9 * paper_gflops <= gflops <= 1.1 * paper_gflops, (gflops, macs)
    # SPyNet: 167.01 GMAC per flow at 960x540 (complexity.md §3); one flow per direction
    assert macs["spynet"] / 1e9 == pytest.approx(167.01 * (2 if name == "bi" else 1), rel=1e-3)
    # GDN (not seen by thop) would not move the result out of the band either
    assert 2 * sum(macs.values()) / 1e9 <= 1.1 * paper_gflops


def test_dehaze_preset_has_16m_parameters() -> None:
    with torch.device("meta"):
        model = build_ncfl("dehaze")
    assert 14.4e6 <= num_parameters(model) <= 17.6e6
