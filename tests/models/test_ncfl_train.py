"""NCFL end to end: a tiny clip is over-fitted; SPyNet supervised pre-training runs and saves a loadable file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from workbench.models.ncfl import build_ncfl
from workbench.models.spynet import load_spynet
from workbench.models.warp import flow_warp
from workbench.train.spynet_pretrain import augment_pair, pretrain_spynet


class _ZeroFlow(nn.Module):
    """Stands in for SPyNet (tested in test_spynet.py) to keep this CPU test within seconds."""

    def forward(self, ref: Tensor, supp: Tensor) -> Tensor:
        return ref.new_zeros(ref.shape[0], 2, *ref.shape[-2:])


def test_smoke_preset_overfits_a_tiny_clip() -> None:
    torch.manual_seed(0)
    model = build_ncfl("smoke")
    model.spynet = _ZeroFlow()  # type: ignore[assignment]
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    clean = torch.stack([torch.stack([0.5 + 0.3 * torch.sin(6 * xx + 0.5 * t + c) * torch.cos(5 * yy - 0.3 * t)
                                      for c in range(3)]) for t in range(3)]).unsqueeze(0)
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    first = last = math.inf
    for step in range(200):
        out = model(noisy)
        loss = ((out.frames - clean) ** 2).mean() + 1e-4 * out.aux["ce_bpp"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = float(loss.detach())
        first = last if step == 0 else first
        if last < first / 10:
            break
    assert last < first / 10, (first, last, step)


def test_augmented_pairs_keep_exact_flow() -> None:
    rng = np.random.default_rng(0)
    tex = rng.random((60, 80, 3)).astype(np.float32)
    ref, supp = tex[5:55, 6:76], tex[3:53, 7:77]  # frame[t](p) = frame[t-1](p + (-1, 2))
    flow = np.broadcast_to(np.array([-1.0, 2.0], dtype=np.float32).reshape(2, 1, 1), (2, 50, 70)).copy()
    valid = np.ones((50, 70), dtype=bool)
    for _ in range(6):
        r, s, f, v = augment_pair((ref, supp, flow, valid), rng, crop=32, max_shift=5)
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        warped = flow_warp(to(s.transpose(2, 0, 1))[None], to(f)[None])[0].numpy().transpose(1, 2, 0)
        assert v.sum() > 0.5 * v.size
        np.testing.assert_allclose(warped[v], r[v], atol=1e-5)


def test_spynet_pretraining_reports_epe_and_saves(tmp_path: Path) -> None:
    out = tmp_path / "spynet.pth"
    res = pretrain_spynet(steps=2, seed=0, out=out, batch_size=1, crop=32, max_eval_pairs=2)
    assert res["eval_pairs"] == 2 and res["train_pairs"] > 0
    for key in ("epe_before_px", "epe_after_px", "epe_zero_flow_px", "final_loss"):
        assert math.isfinite(res[key]) and res[key] >= 0
    assert res["epe_before_px"] != res["epe_after_px"]
    model = load_spynet(out)  # BasicSR layout {"params": ...}, strict
    assert sum(p.numel() for p in model.parameters()) == 1_440_300
