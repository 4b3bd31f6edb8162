"""Supervised (pre-)training of SPyNet on the embedded clips with known synthetic motion.

NCFL uses "the pre-trained optical flow estimation network SPyNet" (Sec. 4.2). Public SPyNet weights
cannot be downloaded here, so this trains (or fine-tunes, ``init=``) :class:`~workbench.models.spynet.SPyNet`
on the synthetic-motion sequences of ``embedded-train`` and reports the average end-point error (EPE) on
``embedded-test`` before and after.

Supervision: for frame pairs ``(t−1, t)`` of a sequence with ground truth
(:func:`workbench.data.embedded.embedded_flow`, ``flow_warp(frame[t−1], flow[t]) ≈ frame[t]``) the
prediction is ``SPyNet(ref=frame[t], supp=frame[t−1])`` (the same convention). Loss: mean EPE
``‖pred − gt‖₂`` over valid pixels. Training samples ``batch_size`` random pairs per step, each augmented by
:func:`augment_pair` (random window, an extra random integer motion of up to ``max_shift`` pixels, random
flips: the embedded clips move at nearly constant velocity, so without it SPyNet would learn the three
training velocities instead of estimating motion), optionally with AWGN of ``sigma`` (on [0, 255]) on both
frames — NCFL estimates flow on noisy frames. Evaluation:
every pair of every synthetic-motion sequence (``max_eval_pairs`` to cap it), full frames, clean,
EPE pooled over all valid pixels, in pixels.

Expectations: the useful run is a fine-tuning of the public BasicSR SPyNet (``init=``, lr 1e-4). From a
random initialisation a few hundred CPU steps do not give a usable estimator (measured: 300 steps, lr 1e-3,
batch 4, 64x64 crops: test EPE 1.46 → 1.28 px, while predicting zero motion scores 1.32 px; 300 more steps
went back to 1.39 px); that needs thousands of steps on a GPU.

Output: ``out`` holds ``{"params": state_dict}`` (the BasicSR layout, readable by
:func:`workbench.models.spynet.load_spynet`), written atomically. Seeded: the same ``seed`` gives the same
weights on CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench import atomic
from workbench.data.embedded import embedded_flow, open_embedded
from workbench.errors import DatasetError
from workbench.models.spynet import SPyNet, load_spynet

Pair = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # ref (H,W,3), supp, flow (2,H,W), valid (H,W)


def flow_pairs(split: str, *, max_frames: int | None = None) -> list[Pair]:
    """All ``(frame[t], frame[t−1], flow[t], valid[t])`` of the synthetic-motion sequences of ``split``."""
    pairs: list[Pair] = []
    for seq in open_embedded(split, max_frames=max_frames):
        try:
            flow, valid = embedded_flow(split, seq.name)
        except DatasetError:  # real camera clip: no ground truth
            continue
        frames = list(seq.frames())
        for t in range(1, len(frames)):
            pairs.append((frames[t], frames[t - 1], flow[t], valid[t]))
    if not pairs:
        raise DatasetError(f"{split}: no sequence with ground-truth flow; rebuild the embedded data")
    return pairs


def _stack(pairs: list[Pair], device: torch.device) -> tuple[torch.Tensor, ...]:
    def to(x: list[np.ndarray], chw: bool) -> torch.Tensor:
        arr = np.stack([a.transpose(2, 0, 1) if chw else a for a in x])
        return torch.from_numpy(np.ascontiguousarray(arr)).to(device)

    ref = to([p[0] for p in pairs], True)
    supp = to([p[1] for p in pairs], True)
    flow = to([p[2] for p in pairs], False).float()
    valid = to([p[3].astype(np.float32) for p in pairs], False)
    return ref, supp, flow, valid


def augment_pair(pair: Pair, rng: np.random.Generator, *, crop: int, max_shift: int) -> Pair:
    """A random ``crop × crop`` window of a pair with an extra integer motion and random flips.

    The supporting frame is cut ``d = (dx, dy)`` pixels (``|d| ≤ max_shift``) away from the reference
    window, so the window's flow is ``flow(p + o) − d`` exactly; validity is re-checked against the window.
    Horizontal/vertical flips mirror the frames and flow and negate the flipped component."""
    ref, supp, flow, valid = pair
    h, w = ref.shape[:2]
    ch, cw = min(crop, h - 2 * max_shift), min(crop, w - 2 * max_shift)
    dx, dy = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
    y = int(rng.integers(max_shift, h - ch - max_shift + 1))
    x = int(rng.integers(max_shift, w - cw - max_shift + 1))
    r = ref[y : y + ch, x : x + cw]
    s = supp[y + dy : y + dy + ch, x + dx : x + dx + cw]
    f = flow[:, y : y + ch, x : x + cw] - np.array([dx, dy], dtype=np.float32).reshape(2, 1, 1)
    gy, gx = np.mgrid[0:ch, 0:cw]
    tx, ty = gx + f[0], gy + f[1]
    v = valid[y : y + ch, x : x + cw] & (tx >= 0) & (tx <= cw - 1) & (ty >= 0) & (ty <= ch - 1)
    if rng.random() < 0.5:  # horizontal flip
        r, s, v = r[:, ::-1], s[:, ::-1], v[:, ::-1]
        f = np.stack([-f[0][:, ::-1], f[1][:, ::-1]])
    if rng.random() < 0.5:  # vertical flip
        r, s, v = r[::-1], s[::-1], v[::-1]
        f = np.stack([f[0][::-1], -f[1][::-1]])
    return r, s, f, v


def masked_epe(
    pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of EPE over valid pixels, number of valid pixels); flows ``(N, 2, H, W)``, valid ``(N, H, W)``."""
    epe = torch.linalg.vector_norm(pred - gt, dim=1)
    return (epe * valid).sum(), valid.sum()


def zero_flow_epe(pairs: list[Pair]) -> float:
    """EPE of predicting no motion (the reference a useful flow estimator must beat)."""
    total = sum(float((np.linalg.norm(p[2], axis=0) * p[3]).sum()) for p in pairs)
    return total / max(sum(int(p[3].sum()) for p in pairs), 1)


@torch.no_grad()
def evaluate_epe(model: SPyNet, pairs: list[Pair], *, batch_size: int = 4, device: str = "cpu") -> float:
    """EPE in pixels pooled over the valid pixels of ``pairs``."""
    model.eval()
    dev = torch.device(device)
    total, count = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    for i in range(0, len(pairs), batch_size):
        ref, supp, flow, valid = _stack(pairs[i : i + batch_size], dev)
        s, n = masked_epe(model(ref, supp), flow, valid)
        total += s.double().cpu()
        count += n.double().cpu()
    return float(total / count.clamp(min=1))


def pretrain_spynet(
    *,
    steps: int,
    seed: int,
    out: Path,
    init: Path | None = None,
    lr: float = 1e-4,
    batch_size: int = 4,
    crop: int = 64,
    max_shift: int = 2,
    sigma: float = 0.0,
    train_split: str = "embedded-train",
    eval_split: str = "embedded-test",
    max_eval_pairs: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train SPyNet ``steps`` steps; returns ``{"epe_before_px", "epe_after_px", "epe_zero_flow_px",
    "final_loss", ...}`` (EPE in pixels on ``eval_split``)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = load_spynet(init) if init is not None else SPyNet()
    dev = torch.device(device)
    model.to(dev)
    train = flow_pairs(train_split)
    test = flow_pairs(eval_split)[:max_eval_pairs]
    before = evaluate_epe(model, test, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    last = float("nan")
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        model.train()
        batch = [augment_pair(train[int(i)], rng, crop=crop, max_shift=max_shift)
                 for i in rng.integers(0, len(train), size=batch_size)]
        ref, supp, flow, valid = _stack(batch, dev)
        if sigma > 0:
            ref = ref + sigma / 255.0 * torch.randn(ref.shape, generator=gen).to(dev)
            supp = supp + sigma / 255.0 * torch.randn(supp.shape, generator=gen).to(dev)
        s, n = masked_epe(model(ref, supp), flow, valid)
        loss = s / n.clamp(min=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = float(loss.detach())
    after = evaluate_epe(model, test, device=device)
    atomic.torch_save(out, {"params": {k: v.detach().cpu() for k, v in model.state_dict().items()}})
    return {
        "epe_before_px": before, "epe_after_px": after, "epe_zero_flow_px": zero_flow_epe(test),
        "final_loss": last, "steps": steps, "seed": seed, "train_pairs": len(train), "eval_pairs": len(test),
        "eval_split": eval_split, "out": str(out),
    }
