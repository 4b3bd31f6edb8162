"""SPyNet pretrained here, on CPU, from synthetic motion with exactly known flow (no public weights).

NCFL uses "the pre-trained optical flow estimation network SPyNet" (Sec. 4.2). Public SPyNet weights
cannot be downloaded here, so :func:`pretrain_spynet` builds and fits :class:`~workbench.models.spynet.SPyNet`
weights and reports the end-point error (EPE, pixels) on the synthetic-motion sequences of ``embedded-test``;
:mod:`workbench.train.motion_prior` runs it once per recipe and caches the weights.

Flow convention: ``flow_warp(supp, flow) ≈ ref``, i.e. ``SPyNet(ref=frame[t], supp=frame[t−1])`` estimates
``flow[t]`` of :func:`workbench.data.embedded.embedded_flow`.

Recipe (:class:`SpynetRecipe`):

1. Gradient-sign initialisation (:func:`gradient_sign_init`): in each level, 8 of the 32/64/32/16 hidden
   channels are set to a hand-made flow step and the last convolution reads only them; the other channels
   keep a seeded He-normal initialisation. For a residual motion ``Δ`` the warped frame differs from the
   reference by ``I_t ≈ −I_x Δ_x − I_y Δ_y``, and ``|I_x + I_t| − |I_x − I_t| = −2 |I_x| Δ_x`` while
   ``|Δ_x| ≤ 1`` (saturating beyond, so a level never moves much more than one of its pixels): averaged over
   a window and scaled by ``κ = g / (2 · mean|I_x|)``, this is a step of about ``g · Δ`` on average texture,
   applied coarse to fine by SPyNet's pyramid. It is what ReLU convolutions can compute without a division.
2. Calibration on the training ground truth (:func:`calibrated_init`): ``mean|I_x|`` per level is measured on
   the ``embedded-train`` frames, and the gain ``g`` is the one of ``init_gains`` with the lowest EPE on the
   ground-truth pairs of the ``embedded-train`` synthetic-motion clips (every ``calibration_stride``-th pair).
3. Supervised fine-tuning of all weights (:func:`fit`, ``steps``) on pairs generated on the fly
   (:func:`synthetic_flow_batch`, unlimited): a random ``embedded-train`` frame ``J`` is sampled by cubic
   B-spline interpolation on two grids, ``supp(p) = J(c0 + S·(p − c))`` and ``ref(p) = J(c0 + S·(p − c + g(p)))``,
   so ``ref(p) = supp(p + g(p))`` and ``g`` is the exact flow; ``S`` (scale, ±5° rotation, flips) and
   ``c0`` are random, ``g`` = translation (``max_translation_px · U²``) + small affine term + smooth field;
   pixels whose match leaves the crop or the source frame are invalid; AWGN (σ ~ U(0, ``max_sigma``) on
   both frames) with probability ``noise_prob``, since NCFL estimates flow on noisy frames. Loss: masked
   EPE of the pyramid levels (:meth:`SPyNet.flow_pyramid`) against the average-pooled ground truth, weighted
   by ``level_weights`` (default: the finest level only); Adam with a small lr and a cosine decay, because
   larger steps undo the hand-made estimator faster than they improve on it (below).

Train content is ``embedded-train`` only; ``embedded-test`` is only evaluated: every pair of its
synthetic-motion clips (45 pairs, 96×160, motion 0.5–1.9 px), EPE pooled over valid pixels, clean and with
seeded AWGN of each ``eval_sigmas`` on both frames.

Measured on held-out ``embedded-test`` (2 CPU cores shared with other jobs, torch 2.13 CPU, seed 0; zero
flow scores 1.324 px):

- default recipe (gain 0.9 calibrated, then 300 steps of 8 × 64² crops): 0.291 → 0.281 px, ratio 0.21 to
  zero flow; σ=25: 0.384 → 0.376 px; σ=50: 0.486 → 0.491 px. 164–171 s wall in one thread on the shared
  machine (the same run with two threads: 726 s, see ``threads``); a fine-tuning step of
  8 × 64² costs about 0.27 s on 2 idle cores;
- from random initialisations, training does not beat zero flow within a CPU budget: the first version
  (PyTorch default init, embedded-train pairs with :func:`augment_pair`, 300 steps, lr 1e-3, batch 4, 64²
  crops) reached 1.28 px; zero last convolutions + He init + this generator + the all-level loss, 200 steps
  of 8 × 64² crops (lr 1e-3): 1.33 px; training the four coarsest levels first on full frames: 1.32 px at
  200 steps;
- the gradient-sign initialisation alone, gain 0.5 / 0.6 / 0.8 / 0.9: 0.335 / 0.289 / 0.272 / 0.291 px
  (the calibration on embedded-train picks 0.9; at 0.9, σ=25: 0.384 px, σ=50: 0.486 px);
- fine-tuning it (from gain 0.8, 0.272 px) with larger steps made it worse: Adam lr 1e-5, all-level loss,
  64² crops: 0.49 px after 50 steps; lr 3e-6: 0.33 px (embedded-train pairs, 64² crops) and 0.41 px
  (full-frame synthetic pairs) after 50 steps; lr 1e-6 with the finest-level loss (the default): 0.257 px
  after 300 steps (σ=25: 0.363 → 0.352 px, σ=50: 0.459 → 0.462 px).

Output: ``{"params": state_dict}`` (the BasicSR layout, readable by :func:`workbench.models.spynet.load_spynet`),
written atomically. Seeded and deterministic on CPU (the same recipe gives the same weights).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

from workbench import atomic
from workbench.data.embedded import embedded_flow, open_embedded
from workbench.errors import DatasetError
from workbench.models.spynet import IMAGENET_MEAN, IMAGENET_STD, LEVELS, SPyNet, load_spynet

Pair = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # ref (H,W,3), supp, flow (2,H,W), valid (H,W)
_SOBEL = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8


@dataclass(frozen=True)
class SpynetRecipe:
    """Everything that determines the pretrained weights (hashed into the cache key)."""

    steps: int = 300
    seed: int = 0
    init_gains: tuple[float, ...] = (0.5, 0.7, 0.9, 1.1)
    calibration_stride: int = 5
    lr: float = 1e-6
    lr_final_ratio: float = 0.1
    batch_size: int = 8
    crop: int | tuple[int, int] = 64
    content_scale: tuple[float, float] = (0.8, 1.25)
    max_translation_px: float = 3.0
    max_affine: float = 0.02
    field_px: float = 0.5
    noise_prob: float = 0.5
    max_sigma: float = 50.0
    level_weights: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    train_split: str = "embedded-train"
    eval_split: str = "embedded-test"
    eval_sigmas: tuple[float, ...] = (0.0, 25.0, 50.0)
    #: CPU threads while pretraining: the weights do not depend on the machine's core count, and on a busy
    #: machine two threads ran 4× slower than one (726 s against 171 s wall)
    threads: int = 1


class FlowBatch(NamedTuple):
    """``ref``, ``supp`` ``(N, 3, h, w)`` float32 RGB (≈[0, 1], noisy if augmented), ``flow`` ``(N, 2, h, w)``
    pixels (x, y) with ``flow_warp(supp, flow) ≈ ref``, ``valid`` ``(N, h, w)`` float32 0/1."""

    ref: Tensor
    supp: Tensor
    flow: Tensor
    valid: Tensor


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


def split_frames(split: str) -> Tensor:
    """Every frame of every sequence of ``split`` as ``(F, 3, H, W)`` float32 in [0, 1]."""
    frames = [f.transpose(2, 0, 1) for seq in open_embedded(split) for f in seq.frames()]
    return torch.from_numpy(np.ascontiguousarray(np.stack(frames))).float()


def _stack(pairs: list[Pair], device: torch.device) -> FlowBatch:
    def to(x: list[np.ndarray], chw: bool) -> Tensor:
        arr = np.stack([a.transpose(2, 0, 1) if chw else a for a in x])
        return torch.from_numpy(np.ascontiguousarray(arr)).to(device)

    ref = to([p[0] for p in pairs], True)
    supp = to([p[1] for p in pairs], True)
    flow = to([p[2] for p in pairs], False).float()
    valid = to([p[3].astype(np.float32) for p in pairs], False)
    return FlowBatch(ref, supp, flow, valid)


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


def _uniform(gen: torch.Generator, n: int, lo: float, hi: float, *shape: int) -> Tensor:
    return lo + (hi - lo) * torch.rand((n, *shape), generator=gen)


def _content_maps(n: int, gen: torch.Generator, scale_range: tuple[float, float]) -> Tensor:
    """Random ``S`` ``(n, 2, 2)``: scale log-uniform in ``scale_range``, rotation ±5°, random x and y flips."""
    lo, hi = (math.log(v) for v in scale_range)
    scale = torch.exp(_uniform(gen, n, lo, hi))
    angle = _uniform(gen, n, -math.pi / 36, math.pi / 36)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], 1)
    flips = torch.where(torch.rand((n, 2), generator=gen) < 0.5, -1.0, 1.0)
    return rot * flips.unsqueeze(1)  # flip the x and y columns


def _random_flow(n: int, size_hw: tuple[int, int], gen: torch.Generator, *, max_translation_px: float,
                 max_affine: float, field_px: float) -> Tensor:
    """``g`` ``(n, 2, h, w)``: translation + affine term (about the crop centre) + smooth field."""
    heading = _uniform(gen, n, 0.0, 2 * math.pi)
    radius = max_translation_px * torch.rand(n, generator=gen) ** 2
    shift = torch.stack([torch.cos(heading), torch.sin(heading)], 1) * radius[:, None]
    affine = _uniform(gen, n, -max_affine, max_affine, 2, 2)
    flow = shift[:, :, None, None] + torch.einsum("nij,jhw->nihw", affine, _centred(size_hw))
    control = field_px * torch.randn((n, 2, 4, 4), generator=gen)
    return flow + F.interpolate(control, size=size_hw, mode="bicubic", align_corners=True)


def _pixels(size_hw: tuple[int, int]) -> Tensor:
    """Pixel coordinates ``(2, h, w)``, x then y."""
    yy, xx = torch.meshgrid(torch.arange(size_hw[0], dtype=torch.float32),
                            torch.arange(size_hw[1], dtype=torch.float32), indexing="ij")
    return torch.stack([xx, yy])


def _centred(size_hw: tuple[int, int]) -> Tensor:
    return _pixels(size_hw) - torch.tensor([size_hw[1] - 1, size_hw[0] - 1]).view(2, 1, 1) / 2


def spline_coefficients(frames: Tensor) -> np.ndarray:
    """Cubic B-spline coefficients ``(F, 3, H, W)`` float64 of ``frames`` (what :func:`synthetic_flow_batch`
    samples; the interpolation the embedded clips are rendered with, :func:`workbench.data.motion.render`)."""
    arr = frames.double().numpy()
    return np.stack([np.stack([ndimage.spline_filter(ch, order=3, mode="mirror") for ch in f]) for f in arr])


def _sample(coeffs: np.ndarray, index: Tensor, coords: Tensor) -> Tensor:
    """Cubic B-spline samples of frames ``coeffs[index]`` at pixel coordinates ``coords`` ``(n, 2, h, w)``."""
    xy = coords.double().numpy()
    out = np.stack([
        np.stack([ndimage.map_coordinates(ch, [xy[i, 1], xy[i, 0]], order=3, mode="mirror", prefilter=False)
                  for ch in coeffs[int(j)]])
        for i, j in enumerate(index)
    ])
    return torch.from_numpy(out).float().clamp(0.0, 1.0)


def synthetic_flow_batch(coeffs: np.ndarray, n: int, gen: torch.Generator, *, crop: int | tuple[int, int],
                         max_translation_px: float, max_affine: float, field_px: float,
                         content_scale: tuple[float, float] = (0.8, 1.25), noise_prob: float = 0.0,
                         max_sigma: float = 0.0) -> FlowBatch:
    """``n`` random ``crop`` (``h × w`` or square) pairs with exact flow (module doc) cut from the frames whose
    B-spline coefficients are ``coeffs`` ``(F, 3, H, W)`` (:func:`spline_coefficients`)."""
    size = (crop, crop) if isinstance(crop, int) else crop
    h, w = coeffs.shape[-2:]
    index = torch.randint(0, coeffs.shape[0], (n,), generator=gen)
    s = _content_maps(n, gen, content_scale)
    g = _random_flow(n, size, gen, max_translation_px=max_translation_px, max_affine=max_affine,
                     field_px=field_px)
    half = s.abs() @ torch.tensor([size[1] - 1.0, size[0] - 1.0]) / 2 + 2  # supp footprint, half x and y
    room = (torch.tensor([w - 1.0, h - 1.0]) - 2 * half).clamp(min=0)  # a footprint too large is centred
    c0 = torch.tensor([w - 1.0, h - 1.0]) / 2 + room * (torch.rand((n, 2), generator=gen) - 0.5)
    centred = _centred(size).expand(n, -1, -1, -1)
    supp_at = c0[:, :, None, None] + torch.einsum("nij,njhw->nihw", s, centred)
    ref_at = c0[:, :, None, None] + torch.einsum("nij,njhw->nihw", s, centred + g)
    target = _pixels(size) + g
    valid = (target[:, 0] >= 0) & (target[:, 0] <= size[1] - 1) & (target[:, 1] >= 0) & (target[:, 1] <= size[0] - 1)
    # the match and the supp pixels around it were sampled inside the source frame
    valid &= (ref_at[:, 0] >= 2) & (ref_at[:, 0] <= w - 3) & (ref_at[:, 1] >= 2) & (ref_at[:, 1] <= h - 3)
    ref, supp = _sample(coeffs, index, ref_at), _sample(coeffs, index, supp_at)
    if noise_prob > 0 and max_sigma > 0:
        sigma = _uniform(gen, n, 0.0, max_sigma / 255.0) * (torch.rand(n, generator=gen) < noise_prob)
        ref = ref + sigma[:, None, None, None] * torch.randn(ref.shape, generator=gen)
        supp = supp + sigma[:, None, None, None] * torch.randn(supp.shape, generator=gen)
    return FlowBatch(ref, supp, g, valid.float())


def masked_epe(pred: Tensor, gt: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """(sum of EPE over valid pixels, number of valid pixels); flows ``(N, 2, H, W)``, valid ``(N, H, W)``."""
    epe = torch.linalg.vector_norm(pred - gt, dim=1)
    return (epe * valid).sum(), valid.sum()


def pyramid_loss(flows: list[Tensor], gt: Tensor, valid: Tensor, weights: Sequence[float]) -> Tensor:
    """Weighted masked EPE of each level (``flows`` coarsest first, ``weights`` finest first) against the
    ground truth ``(N, 2, H, W)`` average-pooled to that level and divided by its scale ``H / h``; a coarse
    pixel is valid where all the fine pixels it covers are."""
    total = gt.new_zeros(())
    for pred, weight in zip(reversed(flows), weights):
        if weight == 0:
            continue
        scale = gt.shape[-1] // pred.shape[-1]
        g = F.avg_pool2d(gt, scale) / scale if scale > 1 else gt
        v = (F.avg_pool2d(valid[:, None], scale)[:, 0] > 1 - 1e-6).float() if scale > 1 else valid
        epe = torch.sqrt(((pred - g) ** 2).sum(1) + 1e-6)  # smooth at zero error
        total = total + weight * (epe * v).sum() / v.sum().clamp(min=1)
    return total


def zero_flow_epe(pairs: list[Pair]) -> float:
    """EPE of predicting no motion (the reference a useful flow estimator must beat)."""
    total = sum(float((np.linalg.norm(p[2], axis=0) * p[3]).sum()) for p in pairs)
    return total / max(sum(int(p[3].sum()) for p in pairs), 1)


@torch.no_grad()
def evaluate_epe(model: SPyNet, pairs: list[Pair], *, sigma: float = 0.0, seed: int = 0, batch_size: int = 4,
                 device: str = "cpu") -> float:
    """EPE in pixels pooled over the valid pixels of ``pairs``; AWGN of ``sigma`` (on [0, 255], seeded by
    ``seed``) on both frames when ``sigma > 0``."""
    model.eval()
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    total, count = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    for i in range(0, len(pairs), batch_size):
        ref, supp, flow, valid = _stack(pairs[i : i + batch_size], dev)
        if sigma > 0:
            ref = ref + (sigma / 255.0 * torch.randn(ref.shape, generator=gen)).to(dev)
            supp = supp + (sigma / 255.0 * torch.randn(supp.shape, generator=gen)).to(dev)
        s, n = masked_epe(model(ref, supp), flow, valid)
        total += s.double().cpu()
        count += n.double().cpu()
    return float(total / count.clamp(min=1))


def init_spynet(seed: int) -> SPyNet:
    """A seeded :class:`SPyNet` for training from scratch: He (Kaiming) normal hidden convolutions (PyTorch's
    default init shrinks the activations through the four ReLU layers of a level), zero biases, and zero last
    convolutions, so it starts by predicting no motion."""
    torch.manual_seed(seed)
    model = SPyNet()
    with torch.no_grad():
        for module in model.basic_module:
            convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
            for conv in convs:
                assert conv.bias is not None
                if conv is convs[-1]:
                    conv.weight.zero_()
                else:
                    torch.nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                conv.bias.zero_()
    return model


def gradient_scales(frames: Tensor) -> list[float]:
    """Mean ``|∂I/∂x|`` and ``|∂I/∂y|`` (Sobel, grey level of the ImageNet-normalised input) of ``frames``
    ``(F, 3, H, W)`` at each SPyNet level, coarsest first."""
    x = (frames - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    grey, out = x.mean(1, keepdim=True), []
    for _ in range(LEVELS):
        grads = F.conv2d(grey, torch.stack([_SOBEL, _SOBEL.T])[:, None])
        out.append(float(grads.abs().mean()))
        grey = F.avg_pool2d(grey, 2)
    return out[::-1]


def gradient_sign_init(model: SPyNet, gains: Sequence[float]) -> SPyNet:
    """Make a few channels of every level a hand-made flow step (module doc), in place; ``gains`` (coarsest
    first) are the ``κ`` of each level.

    Layer 1 computes, on the grey level, Sobel derivatives ``I_x``, ``I_y`` of ``(ref + warped) / 2`` and the
    smoothed difference ``I_t = warped − ref``, as ``relu(±(I_x + I_t))``, ``relu(±(I_x − I_t))`` and the same
    for ``y``; layers 2–3 average ``|I_x + I_t|`` and ``|I_x − I_t|`` over two 7×7 boxes, layer 4 passes them
    on, and layer 5 outputs ``Δ_x = −κ (mean|I_x + I_t| − mean|I_x − I_t|)`` (and ``Δ_y``). The other
    channels keep their random weights and nothing reads them yet."""
    k7 = torch.zeros(7, 7)
    dx, dy, smooth, box, centre = k7.clone(), k7.clone(), k7.clone(), torch.full((7, 7), 1 / 49), k7.clone()
    dx[2:5, 2:5], dy[2:5, 2:5] = _SOBEL, _SOBEL.T
    smooth[2:5, 2:5] = torch.outer(torch.tensor([1.0, 2, 1]), torch.tensor([1.0, 2, 1])) / 16
    centre[3, 3] = 1.0
    grey = torch.tensor([1.0, 1, 1, 0, 0, 0, 0, 0]) / 3  # ref colours; rolled by 3 for the warped ones
    i_t = torch.einsum("c,hw->chw", grey.roll(3) - grey, smooth)
    feats = []
    for d in (dx, dy):
        i_s = torch.einsum("c,hw->chw", (grey + grey.roll(3)) / 2, d)
        feats += [i_s + i_t, -i_s - i_t, i_s - i_t, i_t - i_s]
    with torch.no_grad():
        for module, gain in zip(model.basic_module, gains):
            c = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
            for conv in c:
                assert conv.bias is not None
                conv.bias[:8].zero_()
            c[0].weight[:8] = torch.stack(feats)
            c[1].weight[:8].zero_()
            c[2].weight[:4].zero_()
            c[3].weight[:4].zero_()
            c[4].weight.zero_()
            for i in range(8):
                c[1].weight[i, i] = box
            for i in range(4):
                c[2].weight[i, 2 * i] = c[2].weight[i, 2 * i + 1] = box
                c[3].weight[i, i] = centre
            for i in range(2):
                c[4].weight[i, 2 * i] = -gain * centre
                c[4].weight[i, 2 * i + 1] = gain * centre
    return model


def calibrated_init(recipe: SpynetRecipe, frames: Tensor, *, device: str = "cpu"
                    ) -> tuple[SPyNet, dict[str, float]]:
    """:func:`gradient_sign_init` with the gain ``g`` of ``recipe.init_gains`` (``κ = g / (2 · scale)``
    per level, :func:`gradient_scales` of ``frames``) whose EPE on the ground-truth pairs of
    ``recipe.train_split`` is lowest; returns the model and the EPE of every candidate (keyed ``f"{g:g}"``).
    No candidates: the plain :func:`init_spynet`."""
    scales = gradient_scales(frames)
    pairs = flow_pairs(recipe.train_split)[:: recipe.calibration_stride]
    scores: dict[str, float] = {}

    def build(gain: float) -> SPyNet:
        model = gradient_sign_init(init_spynet(recipe.seed), [gain / (2 * s) for s in scales])
        return model.to(torch.device(device))

    for gain in recipe.init_gains:
        scores[f"{gain:g}"] = evaluate_epe(build(gain), pairs, device=device)
    if not recipe.init_gains:
        return init_spynet(recipe.seed).to(torch.device(device)), scores
    return build(min(recipe.init_gains, key=lambda g: scores[f"{g:g}"])), scores


def fit(model: SPyNet, next_batch: Callable[[int], FlowBatch], recipe: SpynetRecipe, *,
        device: str = "cpu", progress: bool = False) -> list[float]:
    """Train ``model`` ``recipe.steps`` steps on ``next_batch(step)`` with Adam and a cosine lr decay from
    ``lr`` to ``lr · lr_final_ratio``; returns the loss of every step."""
    dev = torch.device(device)
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    final = recipe.lr * recipe.lr_final_ratio
    losses: list[float] = []
    for step in range(recipe.steps):
        for group in opt.param_groups:
            group["lr"] = final + 0.5 * (recipe.lr - final) * (1 + math.cos(math.pi * step / recipe.steps))
        b = next_batch(step)
        flows = model.flow_pyramid(b.ref.to(dev), b.supp.to(dev))
        loss = pyramid_loss(flows, b.flow.to(dev), b.valid.to(dev), recipe.level_weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if progress and (step % 50 == 0 or step == recipe.steps - 1):
            print(f"spynet step {step + 1}/{recipe.steps} loss {losses[-1]:.4f}", flush=True)
    model.eval()
    return losses


def _epes(model: SPyNet, test: list[Pair], recipe: SpynetRecipe, device: str) -> dict[str, float]:
    return {f"{s:g}": evaluate_epe(model, test, sigma=s, seed=recipe.seed + int(s), device=device)
            for s in recipe.eval_sigmas}


def pretrain_spynet(recipe: SpynetRecipe | None = None, *, out: Path, init: Path | None = None,
                    max_eval_pairs: int | None = None, device: str = "cpu", progress: bool = False,
                    **changes: Any) -> dict[str, Any]:
    """Train SPyNet by ``recipe`` (default :class:`SpynetRecipe`, with ``changes`` to its fields applied),
    from :func:`init_spynet` or the weights ``init``; save to ``out``. Returns the report: EPE in pixels on
    ``eval_split`` per σ before and after (``epe_before_px``/``epe_after_px`` are the clean ones), the
    zero-flow EPE, losses, wall seconds and the recipe."""
    recipe = replace(recipe or SpynetRecipe(), **changes)
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        return _pretrain(recipe, out=out, init=init, max_eval_pairs=max_eval_pairs, device=device,
                         progress=progress)
    finally:
        torch.set_num_threads(threads)


def _pretrain(recipe: SpynetRecipe, *, out: Path, init: Path | None, max_eval_pairs: int | None, device: str,
              progress: bool) -> dict[str, Any]:
    start = time.perf_counter()
    frames = split_frames(recipe.train_split)
    calibration: dict[str, float] = {}
    if init is not None:
        model = load_spynet(init).to(torch.device(device))
    else:
        model, calibration = calibrated_init(recipe, frames, device=device)
    coeffs = spline_coefficients(frames)
    test = flow_pairs(recipe.eval_split)[:max_eval_pairs]
    before = _epes(model, test, recipe, device)
    gen = torch.Generator().manual_seed(recipe.seed)

    def next_batch(step: int) -> FlowBatch:
        return synthetic_flow_batch(coeffs, recipe.batch_size, gen, crop=recipe.crop,
                                    max_translation_px=recipe.max_translation_px, max_affine=recipe.max_affine,
                                    field_px=recipe.field_px, content_scale=recipe.content_scale,
                                    noise_prob=recipe.noise_prob, max_sigma=recipe.max_sigma)

    train_start = time.perf_counter()
    losses = fit(model, next_batch, recipe, device=device, progress=progress)
    train_seconds = time.perf_counter() - train_start
    after = _epes(model, test, recipe, device) if recipe.steps else before
    atomic.torch_save(out, {"params": {k: v.detach().cpu() for k, v in model.state_dict().items()}})
    zero = zero_flow_epe(test)
    return {
        "epe_before_px": before["0"], "epe_after_px": after["0"], "epe_zero_flow_px": zero,
        "epe_ratio_to_zero_flow": after["0"] / zero, "epe_before_px_by_sigma": before,
        "epe_after_px_by_sigma": after, "final_loss": losses[-1] if losses else None,
        "first_loss": losses[0] if losses else None, "steps": recipe.steps, "seed": recipe.seed,
        "train_frames": int(frames.shape[0]), "train_pairs": recipe.steps * recipe.batch_size,
        "eval_pairs": len(test), "eval_split": recipe.eval_split, "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - start, "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(), "device": device, "init": str(init) if init else None,
        "recipe": asdict(recipe), "out": str(out), "levels": LEVELS,
        "init_gain": min(calibration, key=calibration.__getitem__) if calibration else None,
        "init_gain_epe_train_px": calibration,
    }
