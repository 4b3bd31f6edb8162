"""Real bitstreams for :class:`~workbench.codec.learned.HyperpriorCodec` (and its mean-scale variant),
entropy-coded with ``constriction``.

One bitstream per clip, frames coded independently (an image codec applied per frame):
``header = "HPC1", frames, height, width`` (little-endian, 10 bytes), then the words of one
``constriction.stream.stack.AnsCoder`` (32-bit, little-endian).

Tables (float64, computed identically by encoder and decoder from the model alone):

- ``ẑ``: per channel, the factorized prior's ``p(k + μ_c)`` for integer symbols ``k = round(z − μ_c)``
  whose cumulative lies in ``(TAIL, 1 − TAIL)`` (found on ``[−Z_SEARCH, Z_SEARCH]``), plus one escape symbol
  holding the rest (``μ``: the prior's offsets, zero unless imported from CompressAI);
- ``ŷ``: symbols ``k = round(y − μ)`` (μ from the hyperprior, zero for the scale-only codec); per σ level
  (64 levels log-spaced in [0.11, 64], a scale is coded with its nearest level in log σ), the Gaussian
  ``p(k)`` for ``|k| ≤ ceil(6.5 σ)``, plus an escape symbol.

An escaped value is then coded uniformly on 16 bits. Decode order per frame: ``ẑ`` channel by channel,
then ``ŷ`` grouped by σ level; inside a group, raster order, then the group's escaped values.
The actual size differs from the estimate ``−Σ log2 p`` only by the header, the σ-level rounding, the
tails, the coder's fixed-point probabilities and its final state (reported as ``rate_gap_pct``).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import constriction
import numpy as np
import torch
from torch import Tensor

from workbench.codec.entropy import FactorizedPrior, gaussian_likelihood, scale_indices, scale_table
from workbench.codec.learned import HyperpriorCodec, estimated_bits, pad_to_multiple

_HEADER = struct.Struct("<4sHHH")
_MAGIC = b"HPC1"
TAIL = 1e-9
Z_SEARCH = 1024
_ESC_BITS = 16
_Categorical = constriction.stream.model.Categorical
_Uniform = constriction.stream.model.Uniform


@dataclass(frozen=True)
class Table:
    """A categorical table for integers ``lo .. lo + len(probs) − 2``; the last entry is the escape."""

    lo: int
    probs: np.ndarray

    @property
    def width(self) -> int:
        return len(self.probs) - 1


def gaussian_tables(levels: np.ndarray) -> list[Table]:
    out = []
    for s in levels:
        r = int(math.ceil(6.5 * s))
        k = torch.arange(-r, r + 1, dtype=torch.float64)
        p = gaussian_likelihood(k, torch.full_like(k, float(s))).numpy()
        out.append(Table(lo=-r, probs=np.append(p, max(1.0 - p.sum(), 0.0))))
    return out


@torch.no_grad()
def z_tables(prior: FactorizedPrior) -> list[Table]:
    grid = torch.arange(-Z_SEARCH, Z_SEARCH + 1)
    below, _ = prior.tails(grid + 0.5)  # mass of (−∞, k + ½)
    _, above = prior.tails(grid - 0.5)  # mass of (k − ½, ∞)
    out = []
    for c in range(below.shape[0]):
        keep = torch.nonzero((below[c] > TAIL) & (above[c] > TAIL))[:, 0]
        lo, hi = int(grid[keep[0]]), int(grid[keep[-1]])
        body = prior.pmf_table(lo, hi)[c]
        out.append(Table(lo=lo, probs=np.append(body, max(1.0 - body.sum(), 0.0))))
    return out


def _encode_group(coder: constriction.stream.stack.AnsCoder, values: np.ndarray, table: Table) -> None:
    idx = values - table.lo
    esc = (idx < 0) | (idx >= table.width)
    if np.any(esc):
        raw = values[esc] + 2 ** (_ESC_BITS - 1)
        if raw.min() < 0 or raw.max() >= 2**_ESC_BITS:
            raise ValueError(
                f"latent value {int(values[esc][np.argmax(np.abs(values[esc]))])} outside 16-bit escape range"
            )
        coder.encode_reverse(raw.astype(np.int32), _Uniform(2**_ESC_BITS))
    idx = np.where(esc, table.width, idx)
    coder.encode_reverse(idx.astype(np.int32), _Categorical(table.probs, perfect=False))


def _decode_group(coder: constriction.stream.stack.AnsCoder, count: int, table: Table) -> np.ndarray:
    idx = coder.decode(_Categorical(table.probs, perfect=False), count).astype(np.int64)
    values = idx + table.lo
    esc = idx == table.width
    if np.any(esc):
        raw = coder.decode(_Uniform(2**_ESC_BITS), int(esc.sum())).astype(np.int64)
        values[esc] = raw - 2 ** (_ESC_BITS - 1)
    return values


@dataclass
class CodedClip:
    """Result of :func:`compress`: bytes, bit counts, integer symbols, encoder-side reconstruction."""

    data: bytes
    estimated_bits: float
    y_symbols: list[np.ndarray]
    z_symbols: list[np.ndarray]
    x_hat: Tensor  # (T, 3, H, W), unclipped

    @property
    def actual_bits(self) -> int:
        return 8 * len(self.data)


@dataclass
class DecodedClip:
    y_symbols: list[np.ndarray]
    z_symbols: list[np.ndarray]
    x_hat: Tensor  # (T, 3, H, W), unclipped


@torch.no_grad()
def compress(model: HyperpriorCodec, frames: Tensor, *, levels: int = 64) -> CodedClip:
    """Code ``frames`` (T, 3, H, W) float32 in [0, 1]; ``model`` is put in eval mode."""
    model.eval()
    t, _, h, w = frames.shape
    s_levels = scale_table(levels)
    y_tabs, z_tabs = gaussian_tables(s_levels), z_tables(model.z_prior)
    groups: list[tuple[np.ndarray, Table]] = []
    ys, zs, recon = [], [], []
    est = 0.0
    for i in range(t):
        y, z = model.analyse(pad_to_multiple(frames[i : i + 1]))
        z_sym, z_hat = model.z_prior.quantise(z)
        mu, sigma = model.means_scales(z_hat)
        y_sym = torch.round(y - mu)
        out = {
            "y_likelihood": gaussian_likelihood(y_sym, sigma),
            "z_likelihood": model.z_prior.likelihood(z_hat),
        }
        est += float(estimated_bits(out))
        recon.append(model.synthesise(y_sym + mu)[..., :h, :w])
        zi = z_sym[0].reshape(z_sym.shape[1], -1).to(torch.int64).numpy()
        yi = y_sym.reshape(-1).to(torch.int64).numpy()
        idx = scale_indices(sigma, s_levels)
        groups += [(zi[c], z_tabs[c]) for c in range(zi.shape[0])]
        groups += [(yi[idx == lvl], y_tabs[lvl]) for lvl in range(levels) if np.any(idx == lvl)]
        ys.append(yi)
        zs.append(zi)
    coder = constriction.stream.stack.AnsCoder()
    for values, table in reversed(groups):
        _encode_group(coder, values, table)
    words = coder.get_compressed().astype("<u4")
    data = _HEADER.pack(_MAGIC, t, h, w) + words.tobytes()
    return CodedClip(data=data, estimated_bits=est, y_symbols=ys, z_symbols=zs, x_hat=torch.cat(recon))


@torch.no_grad()
def decompress(model: HyperpriorCodec, data: bytes, *, levels: int = 64) -> DecodedClip:
    """Inverse of :func:`compress` (same model weights and ``levels``)."""
    model.eval()
    magic, t, h, w = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError("not a hyperprior-codec bitstream (bad magic)")
    coder = constriction.stream.stack.AnsCoder(
        np.frombuffer(data[_HEADER.size :], dtype="<u4").astype(np.uint32)
    )
    s_levels = scale_table(levels)
    y_tabs, z_tabs = gaussian_tables(s_levels), z_tables(model.z_prior)
    hp, wp = h + (-h) % 64, w + (-w) % 64
    c_z, zh, zw = model.n, hp // 64, wp // 64
    ys, zs, recon = [], [], []
    for _ in range(t):
        z = np.stack([_decode_group(coder, zh * zw, z_tabs[c]) for c in range(c_z)])
        z_sym = torch.from_numpy(z.astype(np.float32)).reshape(1, c_z, zh, zw)
        mu, sigma = model.means_scales(z_sym + model.z_prior.offsets())
        idx = scale_indices(sigma, s_levels)
        y = np.zeros(idx.shape, dtype=np.int64)
        for lvl in range(levels):
            mask = idx == lvl
            if np.any(mask):
                y[mask] = _decode_group(coder, int(mask.sum()), y_tabs[lvl])
        y_sym = torch.from_numpy(y.astype(np.float32)).reshape(sigma.shape)
        recon.append(model.synthesise(y_sym + mu)[..., :h, :w])
        zs.append(z)
        ys.append(y)
    return DecodedClip(y_symbols=ys, z_symbols=zs, x_hat=torch.cat(recon))
