"""Load a checkpoint of a known file format into a zoo or plugin model (spec ``checkpoint:``, ``workbench eval``).

Formats (:data:`FORMATS`):

- ``plain``: a bare state dict, the format ``workbench train`` writes (``model.pt``);
- ``basicsr``: ``{"params": …}`` (or ``"params_ema"``) as BasicSR saves it;
- ``mmagic``: ``{"state_dict": {"generator.…": …}}`` as MMagic / MMEditing save it;
- ``fastdvdnet``: the official FastDVDNet ``model.pth`` (``module.`` prefix, old BatchNorm counters).

For the zoo's EDVR, BasicVSR and BasicVSR++ the BasicSR and MMagic files go through the importers that
map the official layouts (:mod:`baselines.importers_basicsr`, :mod:`baselines.importers_basicvsr`); any other
model (a plugin trained with BasicSR, say) gets the generic rule: take the inner dict, strip ``module.`` and
(MMagic) ``generator.``, load strictly. Every path reads weights-only (:mod:`workbench.checkpoint`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torch import Tensor, nn

from baselines.fastdvdnet import load_official_fastdvdnet
from baselines.importers_basicsr import edvr_state_from_file
from baselines.importers_basicvsr import load_basicvsr, load_basicvsrpp
from workbench.checkpoint import load_strict, read_state_dict, strip_prefix
from workbench.errors import CheckpointError, ConfigError

Format = Literal["plain", "basicsr", "mmagic", "fastdvdnet"]
FORMATS: tuple[str, ...] = ("plain", "basicsr", "mmagic", "fastdvdnet")


@dataclass
class CheckpointRef:
    """A checkpoint file and its format (spec form ``checkpoint: {path: FILE, format: basicsr}``)."""

    path: str
    format: Format = "plain"


def as_ref(value: str | CheckpointRef | None) -> CheckpointRef | None:
    """The spec's ``checkpoint:`` value as a :class:`CheckpointRef` (a plain string is a ``plain`` file)."""
    return CheckpointRef(value) if isinstance(value, str) else value


def _generic(path: str, fmt: str) -> dict[str, Tensor]:
    inner = {"plain": (), "basicsr": ("params", "params_ema"), "mmagic": ("state_dict",)}[fmt]
    state = strip_prefix(read_state_dict(path, inner_keys=inner), "module.")
    if fmt == "mmagic" and any(k.startswith("generator.") for k in state):
        state = {k[len("generator."):]: v for k, v in state.items() if k.startswith("generator.")}
    return state


def _official_state(model_id: str, model: nn.Module, ref: CheckpointRef) -> tuple[dict[str, Tensor], str]:
    """The state dict ``ref`` holds, in the naming of ``model``, and a note on how it was read."""
    if ref.format == "fastdvdnet":
        if model_id != "fastdvdnet":
            raise ConfigError(f"{ref.path}: format 'fastdvdnet' is for model 'fastdvdnet', not {model_id!r}")
        return load_official_fastdvdnet(ref.path).state_dict(), "official FastDVDNet file"
    if ref.format in ("basicsr", "mmagic") and model_id == "edvr":
        return edvr_state_from_file(ref.path), f"{ref.format} EDVR file (baselines.importers_basicsr)"
    if ref.format in ("basicsr", "mmagic") and model_id.startswith(("basicvsr-", "basicvsrpp-")):
        direction = "bi" if model_id.endswith("-bi") else "uni"
        load = load_basicvsrpp if model_id.startswith("basicvsrpp-") else load_basicvsr
        head = getattr(model, "head_kind", "hr")
        imported, report = load(ref.path, direction=direction, head=head)  # type: ignore[arg-type]
        return imported.state_dict(), f"{ref.format} file, {report.summary()}"
    return _generic(ref.path, ref.format), f"{ref.format} state dict"


def load_checkpoint(model_id: str, model: nn.Module, ref: CheckpointRef) -> str:
    """Load ``ref`` strictly into ``model`` (built from ``model_id``); returns a one-line note for the manifest."""
    if ref.format not in FORMATS:
        raise ConfigError(f"{ref.path}: unknown checkpoint format {ref.format!r}; known: {', '.join(FORMATS)}")
    try:
        state, note = _official_state(model_id, model, ref)
    except CheckpointError as exc:
        if ref.format != "plain":
            raise
        raise CheckpointError(f"{exc} (format 'plain'; a BasicSR {{'params': …}} or MMagic {{'state_dict': …}} "
                              "file needs format basicsr / mmagic)") from None
    load_strict(model, state, source=str(ref.path))
    return f"{Path(ref.path).name}: {note}"


__all__ = ["FORMATS", "CheckpointRef", "Format", "as_ref", "load_checkpoint"]
