"""Where the motion network's weights come from before training (``train.motion.init``).

NCFL uses "the pre-trained optical flow estimation network SPyNet" (Sec. 4.2); BasicVSR and BasicVSR++
start from the same pretrained SPyNet. Models that have one expose it as ``model.spynet``
(:class:`workbench.models.spynet.SPyNet`, BasicSR layout).

- ``none``: random initialisation (tests; a deliberate ablation);
- ``embedded-pretrained``: the SPyNet pretrained here on the embedded synthetic-motion clips with their
  ground-truth flow (:func:`workbench.train.motion_prior.pretrained_spynet`: trained once per machine,
  cached, reused by every model) — the CPU profiles;
- ``data-root``: the public BasicSR / MMagic checkpoint under the data root, file
  ``<data root>/weights/spynet/`` + one of :data:`SPYNET_FILES` — the full profile. Get it from the BasicSR
  or MMagic model zoo (their BasicVSR configs name it as the SPyNet ``pretrained`` file);
  ``workbench data check spynet-weights`` checks that it is there and loads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from torch import nn

from workbench.checkpoint import load_strict
from workbench.errors import CheckpointError, DatasetError
from workbench.models.spynet import SPyNet, load_spynet
from workbench.paths import data_root
from workbench.train.motion_prior import pretrained_spynet
from workbench.train.spec import MotionSpec

#: accepted file names under ``<data root>/weights/spynet/`` (BasicSR's, then MMagic's)
SPYNET_FILES = ("spynet_sintel_final-3d2a1287.pth", "spynet_20210409-c6c1bd09.pth")


def spynet_weights_dir(root: Path | None = None) -> Path:
    return data_root(root) / "weights" / "spynet"


def find_spynet_weights(root: Path | None = None) -> Path:
    """The SPyNet checkpoint under the data root; one-line :class:`DatasetError` naming the folder if absent."""
    folder = spynet_weights_dir(root)
    for name in SPYNET_FILES:
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"{folder}: no SPyNet checkpoint ({' or '.join(SPYNET_FILES)}); download it from the "
                       "BasicSR or MMagic model zoo (BasicVSR's SPyNet 'pretrained' file) and place it there")


def check_spynet_weights(root: Path | None = None) -> list[str]:
    """Problems with the full profile's SPyNet weights (one line each); ``[]`` if they load."""
    try:
        load_spynet(find_spynet_weights(root))
    except (DatasetError, CheckpointError) as exc:
        return [str(exc)]
    return []


def motion_weights(spec: MotionSpec, *, root: Path | None = None) -> Path | None:
    """The file ``spec.init`` names (trained and cached first for ``embedded-pretrained``); None for ``none``."""
    if spec.init == "none":
        return None
    if spec.init == "data-root":
        return find_spynet_weights(root)
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
