"""Per-operator MAC formulas for the *full* count (every aten op a model dispatches).

Unit: one MAC (multiply-accumulate). FLOPs = 2 × MACs everywhere in the audit. Operators that are not
multiply-adds (a comparison, an exp) are counted as one MAC per element they produce, the convention
thop and fvcore use when they fold such ops into their "MAC" totals. The formulas, per aten op:

- ``convolution`` (conv and transposed conv, any dimensionality):
  ``out_numel × (C_in / groups) × prod(kernel)``; transposed: ``in_numel × (C_out / groups) × prod(kernel)``
  (the weight multiplies actually performed); plus ``out_numel`` for the bias add when there is a bias.
- ``mm`` ``m·k·n``; ``bmm`` ``b·m·k·n``; ``addmm``/``baddbmm`` add ``out_numel`` for the added term.
- batch norm (inference): 2 per element (normalise, affine); layer/group norm: 4 per element
  (mean, variance, normalise, affine).
- pointwise ops (add, mul, div, sigmoid, sqrt, round, clamp, comparisons, ...): 1 per output element;
  ``addcmul``/``addcdiv``/``lerp``: 2.
- reductions (sum, mean, amax, ...): 1 per input element; var/std/norm: 2; softmax/log-softmax: 3.
- pooling: ``out_numel × prod(kernel)`` (avg, max); adaptive pooling: 1 per input element.
- interpolation (``upsample_*``) per output element: nearest 0, linear 2, bilinear 4, bicubic 16,
  trilinear 8 (the weighted taps; the per-row/column weights are shared and not counted).
- ``grid_sampler_2d``: per output element (N·C·H_out·W_out) bilinear 4 / nearest 0 / bicubic 16
  weighted taps, plus per grid point (N·H_out·W_out) 2 MACs to un-normalise (x, y) and, for bilinear,
  4 for the corner weights (nearest 0, bicubic 8).

Ops listed in :data:`FREE_OPS` move or create data without arithmetic (views, reshapes, copies,
concatenation, padding, pixel shuffle, indexing, tensor factories, random number generation) and cost 0.
Any other op has no formula: the counter reports it in ``uncounted_ops`` instead of counting it as 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor

MacFormula = Callable[[Sequence[Any], dict[str, Any], Any], float]

FREE_OPS: frozenset[str] = frozenset(
    """
    view _unsafe_view reshape as_strided expand expand_as permute transpose t squeeze unsqueeze select slice
    narrow split split_with_sizes unbind chunk cat stack clone copy _to_copy contiguous detach alias
    lift_fresh lift_fresh_copy empty empty_like empty_strided zeros zeros_like ones ones_like full full_like
    fill zero new_zeros new_empty new_ones new_full new_empty_strided arange linspace scalar_tensor
    constant_pad_nd reflection_pad1d reflection_pad2d reflection_pad3d replication_pad1d replication_pad2d
    replication_pad3d pixel_shuffle pixel_unshuffle channel_shuffle flip roll repeat index index_select
    gather index_put _index_put_impl_ masked_select _unsafe_index unfold im2col col2im diagonal movedim
    unsqueeze_copy view_copy permute_copy expand_copy slice_copy select_copy as_strided_copy
    rand rand_like randn randn_like randint randint_like normal uniform bernoulli exponential
    _assert_async _assert_tensor_metadata sym_size sym_stride sym_numel sym_storage_offset is_same_size
    resize set _reshape_alias _local_scalar_dense item to _has_compatible_shallow_copy_type
    """.split()
)

POINTWISE_OPS: frozenset[str] = frozenset(
    """
    add sub rsub mul div neg abs pow sqrt rsqrt exp exp2 expm1 log log2 log10 log1p sigmoid tanh relu
    leaky_relu gelu hardtanh hardsigmoid hardswish silu mish elu selu celu softplus softshrink
    hardshrink threshold _prelu_kernel prelu clamp clamp_min clamp_max clip maximum minimum fmax fmin
    floor ceil round trunc frac sign sgn where eq ne lt le gt ge erf erfc erfinv reciprocal square
    sin cos tan atan atan2 asin acos sinh cosh logical_and logical_or logical_not logical_xor
    bitwise_and bitwise_or bitwise_not bitwise_xor remainder fmod masked_fill heaviside nan_to_num
    floor_divide true_divide xlogy logit glu relu6 rrelu isnan isinf isfinite copysign hypot
    """.split()
)

_TWO_PER_ELEMENT = frozenset({"addcmul", "addcdiv", "lerp"})
_REDUCTIONS = {
    "sum": 1, "mean": 1, "amax": 1, "amin": 1, "max": 1, "min": 1, "argmax": 1, "argmin": 1, "prod": 1,
    "cumsum": 1, "cumprod": 1, "any": 1, "all": 1, "aminmax": 1, "var": 2, "std": 2, "var_mean": 2,
    "std_mean": 2, "norm": 2, "linalg_vector_norm": 2, "logsumexp": 3, "_softmax": 3, "_log_softmax": 3,
    "softmax": 3, "log_softmax": 3,
}  # fmt: skip
_INTERP_TAPS = {"nearest": 0, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}
_GRID_TAPS = {0: (4, 6), 1: (0, 2), 2: (16, 10)}  # interpolation_mode -> (per element, per grid point)


def _numel(x: Any) -> int:
    if isinstance(x, Tensor):
        return x.numel()
    if isinstance(x, list | tuple):
        return sum(_numel(v) for v in x)
    return 0


def _first_tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    for v in x:
        if isinstance(v, Tensor):
            return v
    raise TypeError("operator returned no tensor")


def conv_macs(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> float:
    x, w, bias = args[0], args[1], args[2] if len(args) > 2 else kwargs.get("bias")
    transposed = bool(args[6]) if len(args) > 6 else bool(kwargs.get("transposed", False))
    k = math.prod(w.shape[2:])
    y = _first_tensor(out)
    macs = x.numel() * w.shape[1] * k if transposed else y.numel() * w.shape[1] * k
    return float(macs + (y.numel() if bias is not None else 0))


def _mm(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> float:
    a, b = args[0], args[1]
    return float(a.shape[0] * a.shape[1] * b.shape[1])


def _addmm(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> float:
    return _mm(args[1:], kwargs, out) + _first_tensor(out).numel()


def _bmm(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> float:
    a, b = args[0], args[1]
    return float(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2])


def _baddbmm(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> float:
    return _bmm(args[1:], kwargs, out) + _first_tensor(out).numel()


def _per_output(n: int) -> MacFormula:
    return lambda args, kwargs, out: float(n * _first_tensor(out).numel())


def _per_input(n: int) -> MacFormula:
    return lambda args, kwargs, out: float(n * _first_tensor(args[0]).numel())


def _pool(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> float:
    kernel = args[1] if len(args) > 1 else kwargs["kernel_size"]
    x = _first_tensor(args[0])
    spatial = len(kernel) if isinstance(kernel, list | tuple) else x.dim() - 2
    ks = kernel if isinstance(kernel, list | tuple) else [kernel] * spatial
    if len(ks) == 1:
        ks = list(ks) * (x.dim() - 2)
    return float(_first_tensor(out).numel() * math.prod(ks))


def grid_sample_macs(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> float:
    grid = args[1]
    mode = int(args[2]) if len(args) > 2 else int(kwargs.get("interpolation_mode", 0))
    per_element, per_point = _GRID_TAPS.get(mode, (16, 10))
    points = grid.numel() // grid.shape[-1]
    return float(per_element * _first_tensor(out).numel() + per_point * points)


def _interp(mode: str) -> MacFormula:
    return _per_output(_INTERP_TAPS[mode])


def formula_for(name: str) -> MacFormula | None:
    """The MAC formula for an aten op given its overload-packet name (``"add_"`` → ``"add"``), or None."""
    base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
    if base in _FORMULAS:
        return _FORMULAS[base]
    if base in POINTWISE_OPS:
        return _per_output(1)
    if base in _TWO_PER_ELEMENT:
        return _per_output(2)
    if base in _REDUCTIONS:
        return _per_input(_REDUCTIONS[base])
    if base.startswith(("upsample_", "_upsample_")):
        for mode in ("bicubic", "trilinear", "bilinear", "linear", "nearest"):
            if mode in base:
                return _interp(mode)
    return None


def is_free(name: str) -> bool:
    base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
    return name in FREE_OPS or base in FREE_OPS


_FORMULAS: dict[str, MacFormula] = {
    "convolution": conv_macs,
    "_convolution": conv_macs,
    "mm": _mm,
    "addmm": _addmm,
    "bmm": _bmm,
    "baddbmm": _baddbmm,
    "dot": lambda args, kwargs, out: float(args[0].numel()),
    "mv": lambda args, kwargs, out: float(args[0].numel()),
    "native_batch_norm": _per_input(2),
    "_native_batch_norm_legit": _per_input(2),
    "_native_batch_norm_legit_no_training": _per_input(2),
    "native_layer_norm": _per_input(4),
    "native_group_norm": _per_input(4),
    "avg_pool1d": _pool,
    "avg_pool2d": _pool,
    "avg_pool3d": _pool,
    "max_pool2d_with_indices": _pool,
    "max_pool3d_with_indices": _pool,
    "max_pool2d": _pool,
    "_adaptive_avg_pool2d": _per_input(1),
    "adaptive_avg_pool2d": _per_input(1),
    "adaptive_max_pool2d": _per_input(1),
    "grid_sampler_2d": grid_sample_macs,
    "grid_sampler": grid_sample_macs,
}
