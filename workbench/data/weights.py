"""Pretrained weights the full profile reads from the data root (nothing is downloaded).

``<data root>/weights/spynet/`` holds the public SPyNet checkpoint that NCFL, BasicVSR and BasicVSR++ start
from (NCFL Sec. 4.2: "the pre-trained optical flow estimation network SPyNet"): BasicSR's
``spynet_sintel_final-3d2a1287.pth`` or MMagic's ``spynet_20210409-c6c1bd09.pth`` (the file their BasicVSR
configs name as the SPyNet ``pretrained`` weights; get it from the BasicSR or MMagic model zoo).
``workbench data check spynet-weights`` checks that one is there and holds SPyNet's 6 × 5 conv layers
(a weights-only read, :mod:`workbench.checkpoint`); loading into the network is
:func:`workbench.models.spynet.load_spynet`.
"""

from __future__ import annotations

from pathlib import Path

from workbench.checkpoint import read_state_dict
from workbench.errors import CheckpointError, DatasetError

#: accepted file names under ``<data root>/weights/spynet/`` (BasicSR's, then MMagic's)
SPYNET_FILES = ("spynet_sintel_final-3d2a1287.pth", "spynet_20210409-c6c1bd09.pth")
#: SPyNet has 6 pyramid levels of 5 convolutions, each with a weight and a bias
SPYNET_TENSORS = 6 * 5 * 2


def spynet_weights_dir(root: Path) -> Path:
    return root / "weights" / "spynet"


def find_spynet_weights(root: Path) -> Path:
    """The SPyNet checkpoint under data root ``root``; one-line :class:`DatasetError` naming the folder."""
    folder = spynet_weights_dir(root)
    for name in SPYNET_FILES:
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"{folder}: no SPyNet checkpoint ({' or '.join(SPYNET_FILES)}); download it from the "
                       "BasicSR or MMagic model zoo (BasicVSR's SPyNet 'pretrained' file) and place it there")


def check_spynet_weights(root: Path, deep: bool = False) -> list[str]:
    """Problems with the SPyNet weights under ``root`` (one line each); ``[]`` if usable."""
    try:
        path = find_spynet_weights(root)
        state = read_state_dict(path, inner_keys=("params", "state_dict"))
    except (DatasetError, CheckpointError) as exc:
        return [str(exc)]
    convs = [k for k in state if k.startswith("basic_module.") and k.endswith((".weight", ".bias"))]
    if len(convs) != SPYNET_TENSORS:
        return [f"{path}: holds {len(convs)} SPyNet conv tensors, expected {SPYNET_TENSORS}; "
                "is it a SPyNet checkpoint (BasicSR or MMagic layout)?"]
    return []
