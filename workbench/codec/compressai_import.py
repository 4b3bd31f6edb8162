"""Import CompressAI's published ``bmshj2018-hyperprior`` and ``mbt2018-mean`` weights into our codecs.

The study's learned codec (:mod:`workbench.codec.learned`) can use the weights a user downloads from
CompressAI's model zoo (``bmshj2018-hyperprior-<q>-<hash>.pth.tar``: ``ScaleHyperprior``;
``mbt2018-mean-<q>-<hash>.pth.tar``: ``MeanScaleHyperprior``). CompressAI itself is never imported: the
files are read weights-only (:func:`workbench.checkpoint.read_state_dict`) and their keys mapped here.
N and M come from the shapes (``g_a.0.weight`` (N, 3, 5, 5), ``g_a.6.weight`` (M, N, 5, 5)), the widths of
the entropy bottleneck's density network from its matrices.

Key layout (InterDigitalInc/CompressAI at 869a9f5, v1.2.9.dev0: compressai/models/google.py,
compressai/layers/gdn.py, compressai/ops/parametrizers.py, compressai/entropy_models/entropy_models.py,
compressai/zoo/pretrained.py) and what becomes of each key:

===========================================================  =======================  ========================
CompressAI key                                               ours                     note
===========================================================  =======================  ========================
``g_a.{0,2,4,6}.{weight,bias}``, ``g_s.*``, ``h_a.*``,       same name                convs / transposed convs
``h_s.*`` (convs at 0, 2, 4)
``g_a.{1,3,5}.{beta,gamma}``, ``g_s.{1,3,5}.*`` (GDN)        same name                converted, see below
``….{beta,gamma}_reparam.pedestal``,                         —                        read for the conversion
``….{beta,gamma}_reparam.lower_bound.bound``
``entropy_bottleneck._matrices.i`` | ``._matrix{i}`` |       ``z_prior.matrices.i``   (C, d_{i+1}, d_i)
``.matrices.i``; the same for biases and factors             ``.biases.i``, …
``entropy_bottleneck.quantiles`` (C, 1, 3)                   ``z_prior.medians``      ``quantiles[:, 0, 1]``
``entropy_bottleneck.target``                                dropped                  aux-loss target
``entropy_bottleneck.{_offset,_quantized_cdf,_cdf_length}``, dropped                  range-coder tables
``gaussian_conditional.{_offset,_quantized_cdf,_cdf_length,
scale_table}``
``*.likelihood_lower_bound.bound``,                          checked                  must be 1e-9 / 0.11
``gaussian_conditional.{scale_bound,lower_bound_scale.bound}``
===========================================================  =======================  ========================

- The three spellings of the entropy bottleneck's parameters are CompressAI's history: ``nn.ParameterList``
  ``_matrices`` in v1.0 (the zoo files), parameters ``_matrix0`` … in v1.1.0–v1.2.5 (its
  ``zoo/pretrained.py`` renames the zoo files to them), ``nn.ParameterList`` ``matrices`` since v1.2.6.
- Dropped buffers are used only by CompressAI's own range coder (its CDF tables, built by ``update()``) or
  its auxiliary loss; our bitstream coder builds its tables from the model
  (:mod:`workbench.codec.bitstream`), so they carry nothing we need. The tail quantiles
  ``quantiles[:, 0, 0]`` / ``[:, 0, 2]`` only bound those tables and are dropped with them; the medians
  ``quantiles[:, 0, 1]`` are the offsets around which ``z`` is quantised and are kept.
- GDN: CompressAI stores ``beta``/``gamma`` re-parameterised (``NonNegativeParametrizer``): effective value
  ``max(stored, bound)² − pedestal`` with ``pedestal = 2^-36`` and ``bound = sqrt(minimum + pedestal)``
  (``minimum`` 1e-6 for beta, 0 for gamma), the pedestal and bounds saved as buffers. Our GDN
  (:mod:`workbench.models.gdn`) uses the same form and constants, so the stored tensors carry over
  unchanged; a file whose buffers differ has its effective values computed with them (:func:`gdn_effective`)
  and stored as ``sqrt(effective + 2^-36)`` (:func:`~workbench.models.gdn.gdn_parameter`). Either way the
  imported GDNs are checked to reproduce the file's effective values.
- A file may hold the state dict bare (the zoo), under ``state_dict`` (CompressAI's example training script)
  and with DataParallel's ``module.`` prefix. A missing, unknown or misshapen key raises one
  :class:`~workbench.errors.CheckpointError` line naming the file, the first offending key and the fix.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import Tensor

from workbench.checkpoint import load_strict, read_state_dict, strip_prefix
from workbench.codec.entropy import LIKELIHOOD_BOUND, SCALE_BOUND
from workbench.codec.learned import HyperpriorCodec, MeanScaleHyperpriorCodec
from workbench.errors import CheckpointError
from workbench.models.gdn import GDN, PEDESTAL, gdn_parameter
from workbench.registry import Registry

#: GDN's ``beta_min`` in CompressAI and here (both also use the pedestal 2^-36, reparam_offset 2^-18)
COMPRESSAI_BETA_MIN = 1e-6

_ARCHS: dict[str, tuple[str, type[HyperpriorCodec]]] = {
    "compressai-bmshj2018-hyperprior": ("bmshj2018-hyperprior (ScaleHyperprior)", HyperpriorCodec),
    "compressai-mbt2018-mean": ("mbt2018-mean (MeanScaleHyperprior)", MeanScaleHyperpriorCodec),
}
#: spelling of an entropy-bottleneck parameter → (our ParameterList, the CompressAI versions that write it)
_EB_SPELLINGS = {
    "_matrices.": ("matrices", "v1.0"), "_biases.": ("biases", "v1.0"), "_factors.": ("factors", "v1.0"),
    "_matrix": ("matrices", "v1.1-1.2.5"), "_bias": ("biases", "v1.1-1.2.5"), "_factor": ("factors", "v1.1-1.2.5"),
    "matrices.": ("matrices", "v1.2.6+"), "biases.": ("biases", "v1.2.6+"), "factors.": ("factors", "v1.2.6+"),
}
_EB_PARAM = re.compile(r"entropy_bottleneck\.(" + "|".join(re.escape(s) for s in _EB_SPELLINGS) + r")(\d+)$")
_GDN_BUFFER = re.compile(r"(g_[as]\.\d+)\.(beta|gamma)_reparam\.(pedestal|lower_bound\.bound)$")
_TRANSFORM = re.compile(r"(g_a|g_s|h_a|h_s)\.\d+\.(weight|bias|beta|gamma)$")
_DROPPED = {
    "entropy_bottleneck.target", "entropy_bottleneck._offset", "entropy_bottleneck._quantized_cdf",
    "entropy_bottleneck._cdf_length", "gaussian_conditional._offset", "gaussian_conditional._quantized_cdf",
    "gaussian_conditional._cdf_length", "gaussian_conditional.scale_table",
}
_CHECKED = {
    "entropy_bottleneck.likelihood_lower_bound.bound": (LIKELIHOOD_BOUND, "likelihood bound"),
    "gaussian_conditional.likelihood_lower_bound.bound": (LIKELIHOOD_BOUND, "likelihood bound"),
    "gaussian_conditional.scale_bound": (SCALE_BOUND, "scale bound"),
    "gaussian_conditional.lower_bound_scale.bound": (SCALE_BOUND, "scale bound"),
}


@dataclass(frozen=True)
class ImportInfo:
    """What :func:`load_compressai` read: the architecture, its sizes and the keys it did not load."""

    format: str
    n: int
    m: int
    prior_filters: tuple[int, ...]
    key_style: str  # the CompressAI versions whose entropy-bottleneck spelling the file uses
    dropped: tuple[str, ...]

    def summary(self) -> str:
        arch = _ARCHS[self.format][0]
        return (f"CompressAI {arch}, N={self.n}, M={self.m}, entropy bottleneck filters {self.prior_filters} "
                f"({self.key_style} key names); dropped (used by CompressAI's range coder or aux loss only): "
                f"{', '.join(self.dropped) or 'none'}")


def gdn_effective(stored: Tensor, *, pedestal: float, bound: float) -> Tensor:
    """CompressAI's effective GDN ``beta``/``gamma``: ``max(stored, bound)² − pedestal`` (float64, same shape)."""
    return torch.clamp(stored.double(), min=bound) ** 2 - pedestal


@dataclass
class _Mapped:
    state: dict[str, Tensor]  # in our naming
    source_key: dict[str, str]  # our key → the CompressAI key it came from (or would come from)
    n: int
    m: int
    filters: tuple[int, ...]  # CompressAI's default (3, 3, 3, 3) when the file has no matrices
    style: str
    dropped: list[str]
    gdn_effective: dict[str, Tensor]  # our beta/gamma key → the file's effective value (float64)


def _fail(path: Path, message: str) -> CheckpointError:
    return CheckpointError(f"{path}: {message}")


def _scalar(path: Path, key: str, value: Tensor) -> float:
    if value.numel() != 1:
        raise _fail(path, f"key {key!r} holds {tuple(value.shape)} values, expected one; check that the file "
                          "is an unmodified CompressAI checkpoint")
    return float(value.reshape(()))


def _map(path: Path, state: dict[str, Tensor], fmt: str) -> _Mapped:
    """Rename and convert ``state`` (CompressAI naming) into our naming; unknown keys and fixed bounds that
    differ from ours raise here, missing keys and shapes are checked against the model afterwards."""
    for needed in ("g_a.0.weight", "g_a.6.weight"):
        if needed not in state:
            raise _fail(path, f"missing key {needed!r} (N and M are read from g_a.0/g_a.6) — pass a complete "
                              f"CompressAI {_ARCHS[fmt][0]} state dict")
    n, m = int(state["g_a.0.weight"].shape[0]), int(state["g_a.6.weight"].shape[0])
    out: dict[str, Tensor] = {}
    source: dict[str, str] = {}
    buffers: dict[tuple[str, str, str], float] = {}
    dropped: list[str] = []
    styles: set[str] = set()
    spelling = {"matrices": "_matrices.", "biases": "_biases.", "factors": "_factors."}
    for key, value in state.items():
        if (eb := _EB_PARAM.match(key)) is not None:
            name, style = _EB_SPELLINGS[eb.group(1)]
            styles.add(style)
            spelling[name] = eb.group(1)
            ours = f"z_prior.{name}.{int(eb.group(2))}"
        elif key == "entropy_bottleneck.quantiles":
            if value.ndim != 3 or value.shape[1:] != (1, 3):
                raise _fail(path, f"key {key!r} has shape {tuple(value.shape)}, expected ({n}, 1, 3) — check "
                                  "that the file is a CompressAI checkpoint")
            ours, value = "z_prior.medians", value[:, 0, 1].clone()
        elif (gb := _GDN_BUFFER.match(key)) is not None:
            buffers[(gb.group(1), gb.group(2), gb.group(3))] = _scalar(path, key, value)
            continue
        elif _TRANSFORM.match(key):
            ours = key
        elif key in _DROPPED:
            dropped.append(key)
            continue
        elif key in _CHECKED:
            want, what = _CHECKED[key]
            got = _scalar(path, key, value)
            if not math.isclose(got, want, rel_tol=1e-5):
                raise _fail(path, f"key {key!r} is {got:g}, but our entropy model fixes the {what} at {want:g} — "
                                  "a checkpoint trained with another bound cannot be imported")
            continue
        else:
            raise _fail(path, f"unknown key {key!r} for format {fmt} — check that the file is a CompressAI "
                              f"{_ARCHS[fmt][0]} checkpoint (keys g_a/g_s/h_a/h_s/entropy_bottleneck/"
                              "gaussian_conditional)")
        out[ours], source[ours] = value, key
    if len(styles) > 1:
        raise _fail(path, f"entropy_bottleneck keys mix the spellings of CompressAI {' and '.join(sorted(styles))} "
                          "— pass the file as CompressAI saved it")
    n_mat = 1 + max((int(k.rsplit(".", 1)[1]) for k in out if k.startswith("z_prior.matrices.")), default=-1)
    matrices = [out.get(f"z_prior.matrices.{i}") for i in range(n_mat - 1)]
    filters = tuple(int(w.shape[1]) if w is not None and w.ndim == 3 else 3 for w in matrices) if n_mat else (3,) * 4
    effective = _convert_gdn(out, buffers)
    for name, prefix in spelling.items():  # how a missing parameter would be spelled in this file
        for i in range(len(filters) + 1):
            source.setdefault(f"z_prior.{name}.{i}", f"entropy_bottleneck.{prefix}{i}")
    source.setdefault("z_prior.medians", "entropy_bottleneck.quantiles")
    return _Mapped(out, source, n, m, filters, next(iter(styles), "v1.0"), dropped, effective)


def _float32(value: float) -> float:
    return float(torch.tensor(value, dtype=torch.float32))


def _convert_gdn(out: dict[str, Tensor], buffers: dict[tuple[str, str, str], float]) -> dict[str, Tensor]:
    """Re-store every GDN ``beta``/``gamma`` of ``out`` in our parameterisation (in place; unchanged where the
    file's pedestal and bound are ours); returns the effective values the file defines."""
    effective: dict[str, Tensor] = {}
    for key in [k for k in out if k.endswith((".beta", ".gamma")) and k.startswith(("g_a.", "g_s."))]:
        layer, which = key.rsplit(".", 1)
        minimum = COMPRESSAI_BETA_MIN if which == "beta" else 0.0
        ours = (_float32(PEDESTAL), _float32((minimum + PEDESTAL) ** 0.5))
        pedestal = buffers.get((layer, which, "pedestal"), ours[0])
        bound = buffers.get((layer, which, "lower_bound.bound"), ours[1])
        eff = gdn_effective(out[key], pedestal=pedestal, bound=bound)
        effective[key] = eff
        if (_float32(pedestal), _float32(bound)) != ours:
            out[key] = gdn_parameter(torch.clamp(eff, min=0.0)).to(out[key].dtype)
    return effective


def _problem(mapped: _Mapped, model: HyperpriorCodec) -> tuple[str, int] | None:
    """The first mismatch between ``mapped`` and ``model`` in CompressAI naming, and how many there are."""
    own = model.state_dict()
    found = [f"missing key {mapped.source_key.get(k, k)!r}" for k in own if k not in mapped.state]
    found += [f"unexpected key {mapped.source_key[k]!r}" for k in mapped.state if k not in own]
    found += [f"key {mapped.source_key[k]!r} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}"
              for k, v in mapped.state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    return (found[0], len(found)) if found else None


def _build(mapped: _Mapped, fmt: str) -> HyperpriorCodec:
    return _ARCHS[fmt][1](n=mapped.n, m=mapped.m, prior_filters=mapped.filters, prior_medians=True)


def load_compressai(path: str | os.PathLike[str], *, format: str) -> tuple[HyperpriorCodec, ImportInfo]:
    """The codec (eval mode, CPU) in the CompressAI checkpoint ``path`` of ``format`` (:data:`CODEC_FORMATS`)."""
    if format not in _ARCHS:
        raise CheckpointError(f"{path}: unknown CompressAI format {format!r}; known: {', '.join(_ARCHS)}")
    path = Path(path)
    state = strip_prefix(read_state_dict(path, inner_keys=("state_dict",)), "module.")
    mapped = _map(path, state, format)
    model = _build(mapped, format)
    problem = _problem(mapped, model)
    if problem is not None:
        first, count = problem
        more = f" (and {count - 1} more)" if count > 1 else ""
        others = [f for f in _ARCHS if f != format and _problem(mapped, _build(mapped, f)) is None]
        fix = (f"the file fits format {others[0]}; set format: {others[0]}" if others else
               f"check that the file is a complete CompressAI {_ARCHS[format][0]} checkpoint")
        raise _fail(path, f"{first}{more} for format {format} (N={mapped.n}, M={mapped.m}) — {fix}")
    load_strict(model, mapped.state, source=str(path))
    _check_gdn(path, model, mapped)
    info = ImportInfo(format=format, n=mapped.n, m=mapped.m, prior_filters=mapped.filters,
                      key_style=mapped.style, dropped=tuple(sorted(mapped.dropped)))
    return model.eval(), info


def _check_gdn(path: Path, model: HyperpriorCodec, mapped: _Mapped) -> None:
    """Our GDNs must reproduce the file's effective ``beta``/``gamma`` (they cannot go below beta_min 1e-6)."""
    modules = dict(model.named_modules())
    for key, eff in mapped.gdn_effective.items():
        layer, which = key.rsplit(".", 1)
        gdn = modules[layer]
        assert isinstance(gdn, GDN)
        ours = gdn.effective_params()[0 if which == "beta" else 1].detach().double()
        if not torch.allclose(ours, eff, rtol=1e-5, atol=1e-9):
            raise _fail(path, f"key {mapped.source_key[key]!r} holds GDN values below our GDN's minimum "
                              f"(beta ≥ {COMPRESSAI_BETA_MIN:g}, gamma ≥ 0) — the file was trained with another "
                              "beta_min and cannot be imported exactly")


#: codec checkpoint formats → importer (``path → (codec, info)``); the fig2 cell's ``codec_checkpoint`` key
CODEC_FORMATS: Registry[Callable[[str | os.PathLike[str]], tuple[HyperpriorCodec, ImportInfo]]] = Registry(
    "codec checkpoint format"
)
for _fmt in _ARCHS:
    CODEC_FORMATS.add(_fmt, partial(load_compressai, format=_fmt))


@dataclass
class CodecCheckpointRef:
    """A codec checkpoint and its format (spec form ``{path: FILE, format: compressai-mbt2018-mean}``).

    ``label`` names the rate point (``checkpoint=<label>``); empty: the file name without ``.pth.tar``.
    """

    path: str
    format: str
    label: str = ""

    def rate_label(self) -> str:
        if self.label:
            return self.label
        name = Path(self.path).name
        for suffix in (".tar", ".pth", ".pt"):
            name = name.removesuffix(suffix)
        return name


def load_codec_checkpoint(ref: CodecCheckpointRef) -> tuple[HyperpriorCodec, ImportInfo]:
    """Import ``ref`` with the importer :data:`CODEC_FORMATS` registers for its format."""
    return CODEC_FORMATS.get(ref.format)(ref.path)


__all__ = ["CODEC_FORMATS", "CodecCheckpointRef", "ImportInfo", "gdn_effective", "load_codec_checkpoint",
           "load_compressai"]
