"""``precision: bf16``: a short CPU training of a tiny NCFL follows the fp32 loss curve within 5 % per step
(its rate term within 10 %), the forward pass really runs in bf16, and NCFL's rate (eqs. 4–5) and the loss
terms stay fp32."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch

from workbench.data.catalog import open_dataset
from workbench.models.ncfl import compression
from workbench.models.ncfl.presets import ncfl_model
from workbench.train.loop import train
from workbench.train.precision import autocast
from workbench.train.spec import AuxStage, TrainSpec

#: largest allowed |loss_bf16 − loss_fp32| / loss_fp32 at any of the 5 steps (measured here: 0.35 %)
REL_TOL = 0.05
#: the same for the logged rate term ``aux`` (λ · ce_bpp; measured here: 3.6 % at step 5, the encoder's
#: features being bf16 before the fp32 entropy model)
RATE_REL_TOL = 0.10


def _spec(**kw: object) -> TrainSpec:
    base: dict[str, object] = dict(steps=5, batch_size=2, patch_size=32, clip_frames=3, log_every=1,
                                   checkpoint_every=5, seed=5,
                                   aux_stages=[AuxStage(until=1.0, weights={"ce_bpp": 1e-3})])
    base.update(kw)
    return TrainSpec(**base)  # type: ignore[arg-type]


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return ncfl_model(preset="Md", width_scale=0.125, cab_blocks=1)


def _losses(path: Path) -> list[tuple[float, float]]:
    with path.open(newline="") as fh:
        return [(float(r["loss"]), float(r["aux"])) for r in csv.DictReader(fh)]


def test_bf16_follows_the_fp32_loss_curve(tmp_path: Path, one_torch_thread: None) -> None:
    seqs = open_dataset("embedded-train", max_frames=8)
    train(model=_model(), spec=_spec(), train_sequences=seqs, out_dir=tmp_path / "fp32", progress=False)
    r = train(model=_model(), spec=_spec(precision="bf16"), train_sequences=seqs, out_dir=tmp_path / "bf16",
              progress=False)
    assert r.precision == "bf16"
    fp32, bf16 = _losses(tmp_path / "fp32" / "loss.csv"), _losses(tmp_path / "bf16" / "loss.csv")
    assert len(fp32) == len(bf16) == 5
    for (a, rate_a), (b, rate_b) in zip(fp32, bf16):
        assert abs(b - a) / a <= REL_TOL, (a, b)
        assert abs(rate_b - rate_a) / rate_a <= RATE_REL_TOL, (rate_a, rate_b)
    assert fp32 != bf16  # bf16 really changed the arithmetic


def test_the_rate_is_fp32_inside_a_bf16_forward(monkeypatch: pytest.MonkeyPatch, one_torch_thread: None) -> None:
    seen: dict[str, Any] = {"bits": [], "convs": []}
    real_bits = compression.bits

    def recording_bits(prob: torch.Tensor) -> torch.Tensor:
        seen["bits"].append((prob.dtype, torch.is_autocast_enabled("cpu")))
        return real_bits(prob)

    monkeypatch.setattr(compression, "bits", recording_bits)
    model = _model().train()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda _m, _i, out: seen["convs"].append(out.dtype))
    clip = torch.rand(1, 3, 3, 32, 32)
    with autocast("bf16", "cpu"):
        out = model(clip, None)
    assert seen["bits"] and all(d == (torch.float32, False) for d in seen["bits"])  # likelihoods and rate
    assert torch.bfloat16 in seen["convs"]  # the rest of the network ran under autocast
    assert out.aux["ce_bpp"].dtype == torch.float32 and out.aux["ce_bpp"].requires_grad
    assert all(v.dtype == torch.float32 for v in out.stats.values())
