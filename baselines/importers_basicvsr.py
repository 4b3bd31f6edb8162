"""Import official BasicVSR / BasicVSR++ checkpoints (BasicSR or MMagic) into the denoising variants.

The released networks are ×4 super-resolution models; ours keep the input resolution and may be
uni-directional, so not every tensor has a place. Every key of the file is accounted for by an explicit
rule and listed in a :class:`TransferReport`; nothing is ignored silently.

Rules (source keys in BasicSR names):

- ``spynet.mean``, ``spynet.std``: dropped, always (ImageNet constants; their values are checked);
- ``upconv1.*``, ``upconv2.*``: dropped, always (×4 pixel-shuffle tail); with head ``"up64"`` our C→C
  ``upconv1/2`` stay initialised;
- ``conv_hr.*``: dropped with head ``"min"``;
- ``conv_hr.*``, ``conv_last.weight``: dropped when num_feat ≠ 64 (the original tail is 64 channels wide
  whatever num_feat; ours is num_feat wide and stays initialised);
- uni BasicVSR: ``backward_trunk.*``, ``fusion.*`` dropped;
- uni BasicVSR++: ``deform_align.backward_*``, ``backbone.backward_*`` dropped; adapted (input channel
  blocks of the removed backward branches cut out): ``backbone.forward_1.main.0.weight``
  [spatial, b1, prop] → [spatial, prop]; ``backbone.forward_2.main.0.weight`` and
  ``reconstruction.main.0.weight`` [spatial, b1, f1, b2, prop/f2] → [spatial, f1, prop/f2];
- MMagic ``step_counter``, ``data_preprocessor.*`` (outside ``generator.``): dropped (training state);
- everything else: copied; it must exist in our model with the same shape.

MMagic files (``{"state_dict": {"generator.…": …}}``) are first renamed to BasicSR names:
``generator.`` stripped, ``backward_resblocks``/``forward_resblocks`` → ``backward_trunk``/``forward_trunk``,
``upsample{1,2}.upsample_conv`` → ``upconv{1,2}``, SPyNet ``ConvModule`` keys by
:func:`workbench.models.spynet.map_spynet_key`. A key no rule covers, a model key the file lacks, or a
shape conflict raises :class:`~workbench.errors.CheckpointError` (one line). Note that a transferred
``conv_hr`` acted on ×4 up-sampled features in the original: the transfer is a starting point for
re-training on denoising, not a denoiser.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from baselines.basicvsr import BasicVSRBi, BasicVSRUni, Head, build_basicvsr
from baselines.basicvsrpp import BasicVSRPlusPlusBi, BasicVSRPlusPlusUni, build_basicvsrpp
from workbench.checkpoint import read_state_dict
from workbench.errors import CheckpointError
from workbench.models.spynet import IMAGENET_MEAN, IMAGENET_STD, map_spynet_key

Direction = Literal["uni", "bi"]
INNER_KEYS = ("params", "params_ema", "state_dict")

_MMAGIC_RENAMES = (
    (re.compile(r"^backward_resblocks\."), "backward_trunk."),
    (re.compile(r"^forward_resblocks\."), "forward_trunk."),
    (re.compile(r"^upsample([12])\.upsample_conv\."), r"upconv\1."),
)
_MMAGIC_EXTRA = re.compile(r"^(step_counter|data_preprocessor\..+)$")
#: uni-directional BasicVSR++: which num_feat-wide input blocks of the bi-directional weight are kept
_PP_UNI_SLICES = {
    "backbone.forward_1.main.0.weight": (0, 2),
    "backbone.forward_2.main.0.weight": (0, 2, 4),
    "reconstruction.main.0.weight": (0, 2, 4),
}


@dataclass
class TransferReport:
    """What happened to every tensor: ``transferred`` (our keys, copied), ``adapted`` (our key → how),
    ``dropped`` (source key in BasicSR names, MMagic's ``generator.`` stripped → rule), ``initialised``
    (our key → why it keeps its initial value). ``layout`` is ``"basicsr"`` or ``"mmagic"``."""

    source: str
    layout: str
    transferred: list[str] = field(default_factory=list)
    adapted: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    initialised: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (f"{self.source} ({self.layout}): {len(self.transferred)} transferred, {len(self.adapted)} "
                f"adapted, {len(self.dropped)} dropped, {len(self.initialised)} initialised")

    def rows(self) -> list[dict[str, str]]:
        """Long format ``{"key", "action", "rule"}`` rows, e.g. for a CSV beside the run."""
        rows = [{"key": k, "action": "transferred", "rule": "same name and shape"} for k in self.transferred]
        for action, table in (("adapted", self.adapted), ("dropped", self.dropped),
                              ("initialised", self.initialised)):
            rows += [{"key": k, "action": action, "rule": r} for k, r in table.items()]
        return rows


def _canonical(state: Mapping[str, Tensor], report: TransferReport) -> dict[str, Tensor]:
    """MMagic → BasicSR names; the ImageNet buffers and MMagic training state are dropped (recorded)."""
    out: dict[str, Tensor] = {}
    mmagic = any(k.startswith("generator.") for k in state)
    renamed = False
    for key, value in state.items():
        name = key[len("generator."):] if key.startswith("generator.") else key
        if mmagic and not key.startswith("generator.") and _MMAGIC_EXTRA.match(key):
            report.dropped[key] = "MMagic training state outside the generator"
            continue
        if name in ("spynet.mean", "spynet.std"):
            ref = torch.tensor(IMAGENET_MEAN if name.endswith("mean") else IMAGENET_STD).view(1, 3, 1, 1)
            if value.shape != ref.shape or not torch.allclose(value.float(), ref, atol=1e-6):
                raise CheckpointError(f"{report.source}: {key!r} is not the ImageNet constant SPyNet expects "
                                      "— the file is not a BasicSR/MMagic BasicVSR(++) checkpoint")
            report.dropped[name] = "ImageNet normalisation constant (fixed buffer in workbench SPyNet)"
            continue
        if name.startswith("spynet."):
            name = "spynet." + (map_spynet_key(name[len("spynet."):]) or "")
        for pattern, repl in _MMAGIC_RENAMES:
            name = pattern.sub(repl, name)
        renamed = renamed or name != key
        out[name] = value
    report.layout = "mmagic" if mmagic or renamed else "basicsr"
    return out


def _drop_rule(key: str, direction: str, head: str, plusplus: bool) -> str | None:
    if key.startswith(("upconv1.", "upconv2.")):
        return "×4 pixel-shuffle tail: the denoising variant does not up-sample"
    if head == "min" and key.startswith("conv_hr."):
        return "head 'min' has no conv_hr"
    if direction == "uni":
        if not plusplus and key.startswith(("backward_trunk.", "fusion.")):
            return "backward branch and fusion: not in the uni-directional variant"
        if plusplus and re.match(r"^(deform_align|backbone)\.backward_[12]\.", key):
            return "backward propagation branches: not in the uni-directional variant"
    return None


def _head_width_rule(key: str, value: Tensor, own: Tensor) -> bool:
    """True for the 64-wide original ``conv_hr``/``conv_last`` when our head is ``num_feat`` wide."""
    if key in ("conv_hr.weight", "conv_hr.bias"):
        return value.shape != own.shape and value.shape[0] == 64 and own.shape[0] != 64
    if key == "conv_last.weight":
        return value.shape != own.shape and tuple(value.shape) == (3, 64, 3, 3) and own.shape[1] != 64
    return False


def _transfer(model: nn.Module, canon: Mapping[str, Tensor], report: TransferReport, *, direction: str,
              head: str, plusplus: bool) -> None:
    """Copy/adapt/drop every key of ``canon`` (BasicSR names) into ``model`` by the rules above."""
    own = model.state_dict()
    loaded: dict[str, Tensor] = {}
    init_ok = {k: "head 'up64' uses C→C convs; the checkpoint's are C→4C (pixel shuffle)"
               for k in own if head == "up64" and k.startswith(("upconv1.", "upconv2."))}
    unexpected: list[str] = []
    shapes: list[str] = []
    for key, value in canon.items():
        rule = _drop_rule(key, direction, head, plusplus)
        if rule is not None:
            report.dropped[key] = rule
        elif key not in own:
            unexpected.append(key)
        elif plusplus and direction == "uni" and key in _PP_UNI_SLICES:
            c, keep = own[key].shape[1] // len(_PP_UNI_SLICES[key]), _PP_UNI_SLICES[key]
            if value.dim() != 4 or tuple(value.shape) != (own[key].shape[0], c * (max(keep) + 1), 3, 3):
                shapes.append(f"{key} {tuple(value.shape)}→{tuple(own[key].shape)}")
                continue
            loaded[key] = torch.cat([value[:, b * c:(b + 1) * c] for b in keep], dim=1)
            report.adapted[key] = (f"input channel blocks {list(keep)} of {max(keep) + 1} kept "
                                   "(those of the backward branches cut)")
        elif _head_width_rule(key, value, own[key]):
            report.dropped[key] = "original tail is 64 channels wide; ours is num_feat wide"
            init_ok[key] = "num_feat ≠ 64: no matching tensor in the checkpoint"
        elif value.shape != own[key].shape:
            shapes.append(f"{key} {tuple(value.shape)}≠{tuple(own[key].shape)}")
        else:
            loaded[key] = value
            report.transferred.append(key)
    missing = sorted(k for k in own if k not in loaded and k not in init_ok)
    if missing or unexpected or shapes:
        found = (("missing keys", missing), ("unexpected keys", sorted(unexpected)),
                 ("shape mismatch", shapes))
        parts = [f"{label}: {_head(items)}" for label, items in found if items]
        raise CheckpointError(
            f"{report.source}: checkpoint does not fit {type(model).__name__}: " + "; ".join(parts)
            + " — pass a BasicSR/MMagic checkpoint of this network and matching num_feat/num_block")
    report.initialised.update(init_ok)
    model.load_state_dict({**own, **loaded}, strict=True)


def _head(items: list[str]) -> str:
    return ", ".join(items[:4]) + (f" (+{len(items) - 4} more)" if len(items) > 4 else "")


def _infer(canon: Mapping[str, Tensor], trunk: str, default_block: int) -> tuple[int, int]:
    """(num_feat, num_block) of the checkpoint, read from residual trunk ``trunk`` (e.g. ``forward_trunk``):
    output channels of ``main.0`` and the number of ``main.2.<i>`` blocks; defaults if it is absent."""
    first = canon.get(f"{trunk}.main.0.weight")
    if first is None:
        return 64, default_block
    pattern = re.compile(re.escape(f"{trunk}.main.2.") + r"(\d+)\.")
    blocks = [int(m.group(1)) for k in canon if (m := pattern.match(k))]
    return int(first.shape[0]), max(blocks, default=-1) + 1


def _load(path: str | os.PathLike[str], inner_key: str | None, build: Callable[[int, int], nn.Module],
          trunk: str, default_block: int, direction: str, head: str, num_feat: int | None,
          num_block: int | None, plusplus: bool) -> tuple[nn.Module, TransferReport]:
    state = read_state_dict(path, inner_keys=(inner_key,) if inner_key else INNER_KEYS)
    report = TransferReport(source=str(path), layout="")
    canon = _canonical(state, report)
    nf, nb = _infer(canon, trunk, default_block)
    model = build(num_feat if num_feat is not None else nf, num_block if num_block is not None else nb)
    _transfer(model, canon, report, direction=direction, head=head, plusplus=plusplus)
    model.eval()
    return model, report


def load_basicvsr(
    path: str | os.PathLike[str], *, direction: Direction = "uni", head: Head = "hr",
    num_feat: int | None = None, num_block: int | None = None, inner_key: str | None = None,
) -> tuple[BasicVSRUni | BasicVSRBi, TransferReport]:
    """Build the BasicVSR denoising variant and transfer an official checkpoint into it (see module doc).
    ``num_feat``/``num_block`` default to the checkpoint's; ``inner_key`` picks ``params``/``params_ema``."""
    model, report = _load(
        path, inner_key,
        lambda nf, nb: build_basicvsr(direction=direction, num_feat=nf, num_block=nb, head=head),
        "forward_trunk", 30, direction, head, num_feat, num_block, plusplus=False)
    assert isinstance(model, BasicVSRUni | BasicVSRBi)
    return model, report


def load_basicvsrpp(
    path: str | os.PathLike[str], *, direction: Direction = "uni", head: Head = "hr",
    num_feat: int | None = None, num_block: int | None = None, inner_key: str | None = None,
) -> tuple[BasicVSRPlusPlusUni | BasicVSRPlusPlusBi, TransferReport]:
    """Build the BasicVSR++ denoising variant and transfer an official checkpoint into it (see module
    doc). ``num_feat``/``num_block`` default to the checkpoint's (``backbone.forward_1``)."""
    model, report = _load(
        path, inner_key,
        lambda nf, nb: build_basicvsrpp(direction=direction, num_feat=nf, num_block=nb, head=head),
        "backbone.forward_1", 7, direction, head, num_feat, num_block, plusplus=True)
    assert isinstance(model, BasicVSRPlusPlusUni | BasicVSRPlusPlusBi)
    return model, report
