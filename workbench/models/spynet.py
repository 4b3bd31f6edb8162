"""SPyNet optical flow, as used inside BasicVSR, BasicVSR++ and NCFL's motion branch.

Paper: A. Ranjan, M. J. Black, "Optical Flow Estimation using a Spatial Pyramid Network", CVPR 2017
(Sec. 3: coarse-to-fine pyramid, a small CNN ``G_k`` per level predicting a residual flow ``v_k`` from
the reference image, the supporting image warped by the upsampled coarser flow, and that flow; eq. 1–2).
The variant implemented is the one of BasicSR / MMagic (6 levels, no batch norm, ImageNet input
normalisation), read from https://github.com/XPixelGroup/BasicSR commit
8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a (``basicsr/archs/spynet_arch.py``) and
https://github.com/open-mmlab/mmagic commit 42f9b89740fc6174acdf27e32864a8031761d9d3
(``mmagic/models/editors/basicvsr/basicvsr_net.py``). Parameter names follow the BasicSR checkpoint
(``basic_module.{level}.basic_module.{0,2,4,6,8}.{weight,bias}``) so the public pretrained file loads;
MMagic / mmedit files are converted by an explicit key map (:func:`map_spynet_key`).

API (shared by NCFL, BasicVSR and BasicVSR++; keep it stable):

- ``SPyNet()`` — no arguments; 1,440,300 parameters; ``mean``/``std`` are non-persistent buffers.
- ``SPyNet.forward(ref, supp) -> flow``: ``ref``, ``supp`` ``(N, 3, H, W)`` float32 RGB in ``[0, 1]``,
  any ``H, W`` (internally resized to multiples of 32, bilinear, and the flow resized back and rescaled);
  ``flow`` ``(N, 2, H, W)`` in pixels, channel 0 = x, channel 1 = y, such that
  ``workbench.models.warp.flow_warp(supp, flow)`` ≈ ``ref`` (backward warping of ``supp`` onto ``ref``).
- ``SPyNet.flow_pyramid(ref, supp) -> list[flow]`` — the flow after every level, coarsest first (sides
  multiples of 32), for training losses on every level.
- ``load_spynet(path) -> SPyNet`` — BasicSR, MMagic/mmedit, or a whole BasicVSR(++) checkpoint.
- ``spynet_state_from(state, source=...) -> dict`` and ``map_spynet_key(key) -> str | None`` — the same
  conversion on an in-memory state dict, for importers of networks that contain a SPyNet.

Flow memo (inference only): in eval mode without autograd, on CPU, :meth:`SPyNet.forward` returns a flow it
has already computed in this process for bit-identical weights and inputs instead of computing it again
(least recently used first out past :data:`MEMO_BYTES`; ``WORKBENCH_FLOW_MEMO=0`` turns it off, and
:func:`no_flow_memo` inside a block: the runtime benchmarks, whose repeated input would otherwise skip SPyNet). Every
model that evaluates a frozen, shared SPyNet on the same noisy test frames (the mini profile's NCFL variants,
BasicVSR, BasicVSR++ at one σ) computes each flow once. The key is a digest of the weights and of both input
tensors (and the weights' memory format: channels-last convolutions sum in another order), so a hit is exactly
the result a recomputation gives; :func:`flow_memo_stats` counts hits and misses. With
``$WORKBENCH_FLOW_STORE`` naming a folder (``reproduce --jobs`` sets ``runs/flows`` for its workers), each
computed flow of at most :data:`STORE_MAX_NUMEL` elements is also written there (``<key digest>.npy``,
atomically) and a miss reads it before computing: worker processes share their flows.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench import atomic
from workbench.checkpoint import load_strict, read_state_dict
from workbench.errors import CheckpointError
from workbench.models.warp import flow_warp

LEVELS = 6
#: ImageNet statistics the pretrained SPyNet expects (RGB, [0, 1] scale)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: prefixes under which a SPyNet sits in the supported checkpoint files, most specific first
SPYNET_PREFIXES = (
    "generator.spynet.",
    "generator.module.spynet.",
    "module.spynet.",
    "spynet.",
    "module.",
    "",
)

MEMO_BYTES = 512 * 2**20  # flows kept by the inference memo (module docstring)
_MEMO: OrderedDict[tuple[object, ...], Tensor] = OrderedDict()
_MEMO_STATS = {"hits": 0, "misses": 0, "bytes": 0, "store_hits": 0}
#: environment variable naming a folder where the memo's flows are also kept as files, shared by processes
FLOW_STORE_ENV = "WORKBENCH_FLOW_STORE"
#: flows larger than this (elements) are not stored (a 96×160 flow has 30,720; 960×540 would fill a disk)
STORE_MAX_NUMEL = 2 * 256 * 256


_MEMO_ON = [True]


@contextlib.contextmanager
def no_flow_memo() -> Iterator[None]:
    """Inside the block every flow is computed (timing benchmarks: a repeated input must cost its flow)."""
    before = _MEMO_ON[0]
    _MEMO_ON[0] = False
    try:
        yield
    finally:
        _MEMO_ON[0] = before


def flow_memo_stats() -> dict[str, int]:
    """Hits, misses and bytes held by the inference flow memo of this process."""
    return dict(_MEMO_STATS)


def clear_flow_memo() -> None:
    _MEMO.clear()
    _MEMO_STATS.update(hits=0, misses=0, bytes=0, store_hits=0)


def _store_path(key: tuple[object, ...]) -> Path | None:
    folder = os.environ.get(FLOW_STORE_ENV)
    if not folder:
        return None
    return Path(folder) / f"{hashlib.blake2b(repr(key).encode(), digest_size=20).hexdigest()}.npy"


def _store_read(key: tuple[object, ...]) -> Tensor | None:
    """The flow stored under ``key`` by any process (``$WORKBENCH_FLOW_STORE``), or ``None``."""
    path = _store_path(key)
    if path is None or not path.is_file():
        return None
    try:
        return torch.from_numpy(np.load(path, allow_pickle=False))
    except (OSError, ValueError):
        return None  # a damaged file: recompute (and replace it)


def _store_write(key: tuple[object, ...], flow: Tensor) -> None:
    path = _store_path(key)
    if path is None or flow.numel() > STORE_MAX_NUMEL:
        return
    buf = io.BytesIO()
    np.save(buf, flow.detach().contiguous().numpy(), allow_pickle=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, buf.getvalue())


def _digest(t: Tensor) -> bytes:
    return hashlib.blake2b(t.detach().contiguous().numpy().tobytes(), digest_size=16).digest()


_MMAGIC_KEY = re.compile(r"^basic_module\.(\d+)\.basic_module\.(\d+)\.conv\.(weight|bias)$")


class SPyNetBasicModule(nn.Module):
    """``G_k`` of one pyramid level: five 7x7 convs 8→32→64→32→16→2 with ReLU in between.

    Input ``(N, 8, h, w)`` = reference (3), warped supporting image (3), upsampled flow (2);
    output the residual flow ``(N, 2, h, w)`` in pixels of this level."""

    def __init__(self) -> None:
        super().__init__()
        widths = (8, 32, 64, 32, 16, 2)
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Conv2d(cin, cout, 7, padding=3))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        self.basic_module = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.basic_module(x)


class SPyNet(nn.Module):
    """Spatial-pyramid optical flow (Ranjan & Black, CVPR 2017), BasicSR/MMagic variant. See module doc."""

    mean: Tensor
    std: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.basic_module = nn.ModuleList(SPyNetBasicModule() for _ in range(LEVELS))
        # not in the state dict: the public checkpoints do not hold them
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, ref: Tensor, supp: Tensor) -> Tensor:
        """Flow ``(N, 2, H, W)`` (pixels, x then y) with ``flow_warp(supp, flow) ≈ ref``."""
        if ref.dim() != 4 or ref.shape[1] != 3 or ref.shape != supp.shape:
            raise ValueError(
                f"SPyNet expects ref and supp of equal shape (N, 3, H, W), got {tuple(ref.shape)} "
                f"and {tuple(supp.shape)}"
            )
        key = self._memo_key(ref, supp)
        if key is None:
            return self._flow(ref, supp)
        hit = _MEMO.get(key)
        if hit is not None:
            _MEMO.move_to_end(key)
            _MEMO_STATS["hits"] += 1
            return hit.clone()
        stored = _store_read(key)
        if stored is not None:
            _MEMO_STATS["store_hits"] += 1
            flow = stored
        else:
            flow = self._flow(ref, supp)
            _MEMO_STATS["misses"] += 1
            _store_write(key, flow)
        _MEMO[key] = flow.clone()
        _MEMO_STATS["bytes"] += flow.numel() * flow.element_size()
        while _MEMO_STATS["bytes"] > MEMO_BYTES and _MEMO:
            _, old = _MEMO.popitem(last=False)
            _MEMO_STATS["bytes"] -= old.numel() * old.element_size()
        return flow

    def _memo_key(self, ref: Tensor, supp: Tensor) -> tuple[object, ...] | None:
        """The memo key of an inference call, ``None`` when the memo does not apply (training, autograd,
        not on CPU, or turned off)."""
        if (not _MEMO_ON[0] or self.training or torch.is_grad_enabled() or ref.device.type != "cpu"
                or os.environ.get("WORKBENCH_FLOW_MEMO", "1") == "0"):
            return None
        # the weights' memory format is part of the key: channels-last convolutions sum in another order
        # (flows agree to ~1e-7), and a hit must be exactly what this call would compute
        layout = next(self.parameters()).is_contiguous()
        return (self._weights_digest(), _digest(ref), _digest(supp), tuple(ref.shape), str(ref.dtype), layout)

    def _weights_digest(self) -> bytes:
        """Digest of the weights, recomputed only when a tensor was replaced or modified in place (its
        storage or version counter changed) since the last call on this module."""
        tensors = list(self.state_dict().values())
        signature = tuple((t.data_ptr(), t._version) for t in tensors)
        if getattr(self, "_memo_signature", None) != signature:
            h = hashlib.blake2b(digest_size=16)
            for t in tensors:
                h.update(_digest(t))
            self._memo_signature, self._memo_digest = signature, h.digest()
        digest: bytes = self._memo_digest
        return digest

    def _flow(self, ref: Tensor, supp: Tensor) -> Tensor:
        h, w = ref.shape[-2:]
        h32, w32 = -(-h // 32) * 32, -(-w // 32) * 32
        if (h32, w32) != (h, w):
            ref = F.interpolate(ref, size=(h32, w32), mode="bilinear", align_corners=False)
            supp = F.interpolate(supp, size=(h32, w32), mode="bilinear", align_corners=False)
        flow = self._pyramid_flow(ref, supp)
        if (h32, w32) != (h, w):
            flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
            scale = torch.tensor([w / w32, h / h32], dtype=flow.dtype, device=flow.device)
            flow = flow * scale.view(1, 2, 1, 1)
        return flow

    def _pyramid_flow(self, ref: Tensor, supp: Tensor) -> Tensor:
        """Coarse-to-fine flow for inputs whose sides are multiples of 32 (eq. 1–2 of the paper)."""
        return self.flow_pyramid(ref, supp)[-1]

    def flow_pyramid(self, ref: Tensor, supp: Tensor, levels: int = LEVELS) -> list[Tensor]:
        """The flow after each of the ``levels`` coarsest levels, coarsest first: tensors
        ``(N, 2, H / 2^k, W / 2^k)``, ``k = LEVELS − 1 … LEVELS − levels``, each in pixels of its own level.
        ``H``, ``W`` must be multiples of 32; with all levels the last entry is :meth:`forward`'s flow. For
        losses that supervise every level, and coarse-to-fine training that stops at a coarser level."""
        if ref.shape[-2] % 32 or ref.shape[-1] % 32:
            raise ValueError(f"flow_pyramid needs sides that are multiples of 32, got {tuple(ref.shape)}")
        refs = [(ref - self.mean) / self.std]
        supps = [(supp - self.mean) / self.std]
        for _ in range(LEVELS - 1):
            refs.append(F.avg_pool2d(refs[-1], kernel_size=2, stride=2))
            supps.append(F.avg_pool2d(supps[-1], kernel_size=2, stride=2))
        coarsest = refs[-1]
        flow = coarsest.new_zeros(coarsest.shape[0], 2, *coarsest.shape[-2:])
        flows: list[Tensor] = []
        for level, module in enumerate(self.basic_module[:levels]):
            r, s = refs[LEVELS - 1 - level], supps[LEVELS - 1 - level]
            if level > 0:
                # a flow in pixels doubles when the image side doubles
                flow = 2.0 * F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True)
            warped = flow_warp(s, flow, padding_mode="border")
            flow = flow + module(torch.cat([r, warped, flow], dim=1))
            flows.append(flow)
        return flows


def map_spynet_key(key: str) -> str | None:
    """Map one key, relative to the SPyNet module, to this module's layout.

    BasicSR keys are kept; MMagic/mmedit ``basic_module.i.basic_module.k.conv.{weight,bias}``
    (``ConvModule`` k = 0..4) become ``basic_module.i.basic_module.{2k}.{weight,bias}``; the ``mean`` and
    ``std`` buffers are dropped (``None``; :func:`spynet_state_from` checks their values). Other keys
    are returned unchanged, so a strict load reports them."""
    if key in ("mean", "std"):
        return None
    m = _MMAGIC_KEY.match(key)
    if m:
        level, k, kind = m.groups()
        return f"basic_module.{level}.basic_module.{2 * int(k)}.{kind}"
    return key


def _find_prefix(state: Mapping[str, Tensor], source: str) -> str:
    for prefix in SPYNET_PREFIXES:
        for first in ("basic_module.0.basic_module.0.weight", "basic_module.0.basic_module.0.conv.weight"):
            if prefix + first in state:
                return prefix
    raise CheckpointError(
        f"{source}: no SPyNet weights found (looked for 'basic_module.0.basic_module.0.weight' under the "
        f"prefixes {', '.join(repr(p) for p in SPYNET_PREFIXES if p)} or none) — pass a SPyNet, BasicVSR or "
        "BasicVSR++ checkpoint from BasicSR or MMagic"
    )


def spynet_state_from(state: Mapping[str, Tensor], *, source: str) -> dict[str, Tensor]:
    """Extract the SPyNet weights of ``state`` (BasicSR, MMagic/mmedit, or a whole network containing a
    ``spynet`` submodule) and return them in this module's layout."""
    prefix = _find_prefix(state, source)
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        rel = key[len(prefix) :]
        if rel in ("mean", "std"):
            expected = torch.tensor(IMAGENET_MEAN if rel == "mean" else IMAGENET_STD).view(1, 3, 1, 1)
            if value.shape != expected.shape or not torch.allclose(value.float(), expected, atol=1e-6):
                raise CheckpointError(
                    f"{source}: key {key!r} is not the ImageNet {rel} this SPyNet uses — "
                    "the file is not a BasicSR/MMagic SPyNet"
                )
        new = map_spynet_key(rel)
        if new is not None:
            out[new] = value
    return out


def load_spynet(path: str | os.PathLike[str]) -> SPyNet:
    """Build a :class:`SPyNet` from a checkpoint file, read weights-only and loaded strictly.

    Accepts the BasicSR file (``{"params": ...}``), MMagic/mmedit files (``{"state_dict": ...}`` with
    ``generator.spynet.``/``spynet.`` prefixes and ``ConvModule`` keys) and bare state dicts; a file
    without SPyNet weights, or with missing/unexpected ones, raises :class:`CheckpointError`."""
    raw = read_state_dict(path, inner_keys=("params", "params_ema", "state_dict"))
    model = SPyNet()
    load_strict(model, spynet_state_from(raw, source=str(path)), source=str(path))
    model.eval()
    return model
