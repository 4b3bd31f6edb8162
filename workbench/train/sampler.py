"""Random training clips from streaming sequences.

A clip is ``clip_frames`` consecutive frames of one sequence, cropped to ``patch_size``² at one
random position and augmented with one of the 8 flip/rot90 variants (the same for every frame).
All randomness comes from one ``torch.Generator`` so a resumed run draws the same clips.
Returns ``(N, T, C, P, P)`` float32 in [0, 1].

Drawing and reading are two steps: :meth:`ClipSampler.draw` takes the random numbers of a batch (per clip,
in this order: sequence, first frame, top, left, augmentation) and returns :class:`ClipIndex` records;
:meth:`ClipSampler.clip` decodes, crops and augments one of them and uses no randomness. ``sample`` is the
two in a row, so the loader's worker processes (:mod:`workbench.train.loader`) can read the very clips the
main process drew.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from workbench.data.sequence import Sequence
from workbench.errors import DatasetError

#: the frame cache's memory bound (besides its frame count): a 2708×1800 REVIDE pair is 117 MB as float32
#: (6 channels), so 512 of them would not fit; eviction only changes speed, never the clips drawn
CACHE_BYTES = 4 << 30


@dataclass(frozen=True)
class ClipIndex:
    """One drawn clip: sequence ``seq`` (index into :attr:`ClipSampler.sequences`), frames ``t0 ..
    t0 + clip_frames − 1``, crop top-left ``(y, x)`` in pixels, augmentation ``aug`` in 0..7 (bit 2: flip
    left-right, bits 0–1: quarter turns)."""

    seq: int
    t0: int
    y: int
    x: int
    aug: int


class ClipSampler:
    def __init__(self, *, sequences: list[Sequence], clip_frames: int, patch_size: int, augment: bool = True,
                 cache_frames: int = 512, cache_bytes: int = CACHE_BYTES) -> None:
        usable = [s for s in sequences if len(s) >= clip_frames and min(s.shape[:2]) >= patch_size]
        if not usable:
            raise DatasetError(
                f"no training sequence has ≥ {clip_frames} frames of ≥ {patch_size}px; lower clip_frames/patch_size"
            )
        self.sequences = usable
        self.clip_frames, self.patch_size, self.augment = clip_frames, patch_size, augment
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_frames, self._cache_bytes, self._cached_bytes = cache_frames, cache_bytes, 0

    def _frame(self, s: int, t: int) -> np.ndarray:
        key = (s, t)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        frame = self.sequences[s].frame(t)
        self._cache[key] = frame
        self._cached_bytes += frame.nbytes
        while len(self._cache) > 1 and (len(self._cache) > self._cache_frames or
                                        self._cached_bytes > self._cache_bytes):
            self._cached_bytes -= self._cache.popitem(last=False)[1].nbytes
        return frame

    def _randint(self, high: int, g: torch.Generator) -> int:
        return int(torch.randint(0, high, (1,), generator=g).item())

    def draw(self, batch: int, g: torch.Generator) -> list[ClipIndex]:
        """The random part of :meth:`sample`: ``batch`` clips drawn from ``g``."""
        out = []
        p = self.patch_size
        for _ in range(batch):
            s = self._randint(len(self.sequences), g)
            seq = self.sequences[s]
            h, w, _ = seq.shape
            t0 = self._randint(len(seq) - self.clip_frames + 1, g)
            y, x = self._randint(h - p + 1, g), self._randint(w - p + 1, g)
            aug = self._randint(8, g) if self.augment else 0
            out.append(ClipIndex(seq=s, t0=t0, y=y, x=x, aug=aug))
        return out

    def clip(self, index: ClipIndex) -> torch.Tensor:
        """The clip ``index`` as ``(T, C, P, P)`` float32 (decoded through the frame cache; no randomness)."""
        p, y, x = self.patch_size, index.y, index.x
        frames = np.stack([self._frame(index.seq, index.t0 + i)[y : y + p, x : x + p]
                           for i in range(self.clip_frames)])
        clip = torch.from_numpy(frames).permute(0, 3, 1, 2)  # (T, C, P, P)
        if index.aug & 4:
            clip = clip.flip(-1)
        clip = torch.rot90(clip, k=index.aug & 3, dims=(-2, -1))
        return clip.contiguous()

    def sample(self, batch: int, g: torch.Generator) -> torch.Tensor:
        """``batch`` random clips, ``(N, T, C, P, P)``."""
        return torch.stack([self.clip(i) for i in self.draw(batch, g)])
