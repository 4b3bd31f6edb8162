"""The sequence abstraction every dataset returns.

A :class:`Sequence` streams frames; it never holds a whole video in memory. Frames are
``numpy.float32`` arrays laid out ``(H, W, C)``:

- ``kind == "rgb"``: C = 3, RGB, values in ``[0, 1]`` (``uint8 / 255`` or ``uint16 / 65535``);
- ``kind == "raw"``: C = 4, packed Bayer planes (see :mod:`workbench.data.raw`), normalised
  ``(x − black) / (white − black)``, not clipped.

A :class:`PairedSequence` couples a degraded sequence with its clean target (CRVD noisy/clean,
RainSyn rainy/clean, REVIDE hazy/clean). Clean-only datasets (Set8, DAVIS) yield plain sequences and
are degraded on the fly by :mod:`workbench.degrade`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from workbench.errors import DatasetError


class Sequence(ABC):
    """A named, indexable, streamable list of frames of one size."""

    name: str
    kind: str = "rgb"

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as float32 ``(H, W, C)``; raises :class:`~workbench.errors.DatasetError`
        naming the file if it is corrupt or of another size than the first frame."""

    @property
    @abstractmethod
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of every frame."""

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Stream frames ``start .. stop-1`` one at a time."""
        stop = len(self) if stop is None else min(stop, len(self))
        for i in range(start, stop):
            yield self.frame(i)

    def checksum_source(self) -> list[str]:
        """Identifiers (file paths) whose content defines this sequence; used in manifests."""
        return []

    def location(self) -> str:
        """Where the sequence lives (its folder or file) for messages; the name when it has no file."""
        return self.name

    def limit(self, max_frames: int | None) -> Sequence:
        """This sequence truncated to its first ``max_frames`` frames (``None``: unchanged)."""
        if max_frames is None or max_frames >= len(self):
            return self
        return TruncatedSequence(self, max_frames)


class TruncatedSequence(Sequence):
    def __init__(self, base: Sequence, n: int) -> None:
        self.base, self.n = base, n
        self.name, self.kind = base.name, base.kind

    def __len__(self) -> int:
        return self.n

    def frame(self, index: int) -> np.ndarray:
        if not 0 <= index < self.n:
            raise IndexError(index)
        return self.base.frame(index)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.base.shape

    def checksum_source(self) -> list[str]:
        return self.base.checksum_source()[: self.n] if self.base.checksum_source() else []

    def location(self) -> str:
        return self.base.location()


class ArraySequence(Sequence):
    """An in-memory sequence (tests, tiny fixtures): ``frames`` is ``(T, H, W, C)`` float32."""

    def __init__(self, name: str, frames: np.ndarray, kind: str = "rgb") -> None:
        if frames.ndim != 4:
            raise ValueError("ArraySequence expects (T, H, W, C)")
        self.name, self.kind = name, kind
        self._frames = frames.astype(np.float32, copy=False)

    def __len__(self) -> int:
        return int(self._frames.shape[0])

    def frame(self, index: int) -> np.ndarray:
        return self._frames[index]

    @property
    def shape(self) -> tuple[int, int, int]:
        t, h, w, c = self._frames.shape
        return (h, w, c)


@dataclass
class PairedSequence:
    """A degraded sequence and its clean target, frame-aligned (same length and size)."""

    name: str
    degraded: Sequence
    clean: Sequence

    def __len__(self) -> int:
        return len(self.clean)


def require_length(seqs: Iterable[Sequence], n: int, *, what: str) -> None:
    """Raise :class:`~workbench.errors.DatasetError` naming the first sequence with fewer than ``n`` frames.

    ``what`` says who needs them, e.g. ``"fastdvdnet's 5-frame window"`` or ``"the Set8 protocol (85
    frames)"``; the check counts frames as the caller will read them (after any ``limit``).
    """
    for seq in seqs:
        if len(seq) < n:
            raise DatasetError(f"{seq.location()}: sequence {seq.name!r} has {len(seq)} frame(s), but {what} "
                               f"needs at least {n}; use the complete sequence or leave it out")
