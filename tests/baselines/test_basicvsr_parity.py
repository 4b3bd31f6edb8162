"""Parity of BasicVSR / BasicVSR++ (denoising variants) with the original BasicSR architecture code.

Reference outputs in ``tests/data_parity/basicvsr_ref.pt`` and ``basicvsrpp_ref.pt`` were produced outside
the repository by the original classes of XPixelGroup/BasicSR (commit in ``README_basicvsr.md``),
modified only as our denoising variants are (no ×4 tail, full-resolution features, forward branches only
for "uni"); see that README. The weights (1.8-2.3 M values, mostly SPyNet's) are not stored: both sides
take them from :func:`det_state`, an integer hash of (key, element index) that is exact on every platform;
the data files store each key's sum, checked here before the comparison.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
import torch
from torch import Tensor

from baselines.basicvsr import build_basicvsr
from baselines.basicvsrpp import build_basicvsrpp

DATA = Path(__file__).resolve().parents[1] / "data_parity"
MASK32 = 0xFFFFFFFF


def hash_uniform(n: int, salt: int) -> Tensor:
    """``n`` float64 values in [-1, 1) from an integer hash of (index, salt) — no RNG involved."""
    x = (torch.arange(n, dtype=torch.int64) + salt * 1_000_003) & MASK32
    for _ in range(2):
        x = (((x >> 16) ^ x) * 0x45D9F3B) & MASK32
    x = (x >> 16) ^ x
    return x.to(torch.float64) / 2.0**31 - 1.0


def det_state(template: dict[str, Tensor]) -> dict[str, Tensor]:
    """Deterministic pseudo-random weights for every key of ``template`` (salt = CRC-32 of the key, so
    the value of a key does not depend on which other keys exist). Weights ±gain/sqrt(fan_in) (gain 2 in
    SPyNet's hidden convs, 1 elsewhere: flows of about 1 px that vary over the frame), biases ±0.05
    (±0.01 in SPyNet)."""
    out = {}
    for key, ref in template.items():
        u = hash_uniform(ref.numel(), zlib.crc32(key.encode())).view(ref.shape)
        spy = key.startswith("spynet.")
        if ref.dim() > 1:
            gain = (1.0 if ".basic_module.8." in key else 2.0) if spy else 1.0
            scale = gain * ref[0].numel() ** -0.5
        else:
            scale = 0.01 if spy else 0.05
        out[key] = (u * scale).to(torch.float32)
    return out


def _run_case(data: dict, name: str) -> tuple[Tensor, Tensor]:
    case = data["cases"][name]
    build = build_basicvsr if data["model"] == "basicvsr" else build_basicvsrpp
    model = build(direction=case["direction"], num_feat=case["num_feat"], num_block=case["num_block"],
                  head=case["head"])
    state = det_state(model.state_dict())
    assert sorted(state) == sorted(case["checksums"]), "our keys differ from the original's"
    for key, value in state.items():
        assert float(value.double().sum()) == pytest.approx(case["checksums"][key], abs=1e-9), key
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        out = model(data["input"])
    return out, case["output"]


@pytest.mark.parametrize(
    ("file", "case"),
    [("basicvsr_ref.pt", "uni"), ("basicvsr_ref.pt", "bi"), ("basicvsrpp_ref.pt", "uni"),
     ("basicvsrpp_ref.pt", "bi")],
)
def test_matches_original_implementation(file: str, case: str) -> None:
    data = torch.load(DATA / file, weights_only=True)
    ours, ref = _run_case(data, case)
    assert ours.shape == ref.shape == data["input"].shape
    # the reference is not trivially the input: the network changes it
    assert (ref - data["input"]).abs().max() > 1e-2
    err = (ours - ref).abs().max().item()
    print(f"{file} {case}: max |ours - original| = {err:.3e}")
    assert err <= 1e-5


def test_hash_uniform_closed_form() -> None:
    # x = index + salt*1000003 = 1000003 hashed by hand (two multiply-xorshift rounds, one xorshift)
    x = 1_000_003
    for _ in range(2):
        x = (((x >> 16) ^ x) * 0x45D9F3B) & MASK32
    x = (x >> 16) ^ x
    assert hash_uniform(1, 1).item() == x / 2.0**31 - 1.0
    u = hash_uniform(100_000, 7)
    assert -1.0 <= u.min() < -0.99 and 0.99 < u.max() < 1.0 and abs(u.mean().item()) < 0.01
