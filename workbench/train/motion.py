"""Where the motion network's weights come from before training (``train.motion.init``).

NCFL uses "the pre-trained optical flow estimation network SPyNet" (Sec. 4.2); BasicVSR and BasicVSR++
start from the same pretrained SPyNet. Models that have one expose it as ``model.spynet``
(:class:`workbench.models.spynet.SPyNet`, BasicSR layout).

- ``none``: random initialisation (tests; a deliberate ablation);
- ``embedded-pretrained``: the SPyNet pretrained here on the embedded synthetic-motion clips with their
  ground-truth flow (:func:`workbench.train.motion_prior.pretrained_spynet`: trained once per machine,
  cached, reused by every model) — the CPU profiles;
- ``data-root``: the public BasicSR / MMagic checkpoint under the data root (file names and where to get
  them: :mod:`workbench.data.weights`) — the full profile; ``workbench data check spynet-weights`` checks
  that it is there.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from torch import nn

from workbench.checkpoint import load_strict
from workbench.data.weights import find_spynet_weights
from workbench.models.spynet import SPyNet, load_spynet
from workbench.paths import data_root
from workbench.train.motion_prior import pretrained_spynet
from workbench.train.spec import MotionSpec


def motion_weights(spec: MotionSpec, *, root: Path | None = None) -> Path | None:
    """The file ``spec.init`` names (trained and cached first for ``embedded-pretrained``); None for ``none``."""
    if spec.init == "none":
        return None
    if spec.init == "data-root":
        return find_spynet_weights(data_root(root))
    return pretrained_spynet()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def init_motion(model: nn.Module, path: Path | None) -> bool:
    """Load the SPyNet weights in ``path`` into ``model.spynet`` (strictly); False when the model has no
    motion network or ``path`` is None."""
    spynet = getattr(model, "spynet", None)
    if path is None or not isinstance(spynet, SPyNet):
        return False
    load_strict(spynet, load_spynet(path).state_dict(), source=str(path))
    return True
