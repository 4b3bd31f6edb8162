"""Datasets by name: one entry point for pipelines, the CLI and manifests.

Names: ``set8`` (test, 85 frames per sequence by default), ``davis2017-train`` (DAVIS-2017 trainval 480p),
``embedded-train`` and ``embedded-test`` (built from package media, no download). On-disk sets are looked
up under the data root (``root`` argument, else ``$WORKBENCH_DATA``, else ``<repo>/data``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.data import davis, embedded, set8, weights
from workbench.data.readers import sha256_file
from workbench.data.sequence import Sequence
from workbench.errors import ConfigError
from workbench.paths import data_root
from workbench.registry import Registry


@dataclass(frozen=True)
class DatasetEntry:
    """How to open and check one named dataset.

    ``open(root, max_frames)`` returns its sequences, ``check(root, deep)`` its layout problems (one line
    each); ``root`` is the resolved data root; ``default_max_frames`` is the protocol's cut (Set8: 85)."""

    open: Callable[[Path, int | None], list[Sequence]]
    check: Callable[[Path, bool], list[str]]
    default_max_frames: int | None = None


#: dataset name → :class:`DatasetEntry`
DATASETS: Registry[DatasetEntry] = Registry("dataset")


def _embedded_entry(name: str) -> DatasetEntry:
    def check(root: Path, deep: bool) -> list[str]:
        embedded.ensure_embedded()
        return embedded.check_embedded(name)

    return DatasetEntry(open=lambda root, n: embedded.open_embedded(name, max_frames=n), check=check)


DATASETS.add("set8", DatasetEntry(open=lambda root, n: set8.open_set8(root, max_frames=n),
                                  check=lambda root, deep: set8.check_set8(root, deep=deep),
                                  default_max_frames=set8.MAX_FRAMES))
DATASETS.add("davis2017-train", DatasetEntry(open=lambda root, n: davis.open_davis(root, max_frames=n),
                                             check=lambda root, deep: davis.check_davis(root, deep=deep)))
for _split in embedded.SPLITS:
    DATASETS.add(_split, _embedded_entry(_split))


def _not_a_dataset(root: Path, n: int | None) -> list[Sequence]:
    raise ConfigError("spynet-weights is a weights folder, not a dataset; use it as train.motion.init: data-root")


# checked like a dataset (``workbench data check spynet-weights``), never opened as one
DATASETS.add("spynet-weights", DatasetEntry(open=_not_a_dataset, check=weights.check_spynet_weights))
DATASET_NAMES = tuple(DATASETS.names())


def _entry(name: str) -> DatasetEntry:
    return DATASETS.get(name)


def open_dataset(name: str, *, root: Path | None = None, max_frames: int | None = None,
                 max_sequences: int | None = None) -> list[Sequence]:
    """The sequences of dataset ``name``; ``max_frames`` overrides the default cut (Set8: 85);
    ``max_sequences`` keeps the first sequences only (in the dataset's order).

    Raises :class:`~workbench.errors.ConfigError` for an unknown name and
    :class:`~workbench.errors.DatasetError` (first layout problem) for a missing or mis-laid dataset.
    """
    entry = _entry(name)
    limit = max_frames if max_frames is not None else entry.default_max_frames
    seqs = entry.open(data_root(root), limit)
    return seqs[:max_sequences] if max_sequences else seqs


def check_dataset(name: str, root: Path | None = None, *, deep: bool = False) -> list[str]:
    """Problems with dataset ``name`` (one line each, naming the path and the fix); ``[]`` if usable."""
    return _entry(name).check(data_root(root), deep)


def _embedded_index() -> dict[str, str]:
    """Absolute path → sha256 for every file listed in the embedded manifests that exist on disk."""
    index: dict[str, str] = {}
    root = embedded.embedded_root()
    for split in embedded.SPLITS:
        manifest_path = root / split / "manifest.json"
        if not manifest_path.is_file():
            continue
        manifest = json.loads(manifest_path.read_text())
        for seq in manifest["sequences"]:
            for entry in seq["frames"]:
                index[str(root / split / entry["file"])] = entry["sha256"]
    return index


def dataset_checksums(seqs: list[Sequence]) -> dict[str, str]:
    """sha256 of every frame file the sequences read, keyed ``"<sequence>/<file name>"``.

    Embedded sets take the digests from their manifest; other files are hashed. Sequences without file
    sources (in-memory arrays) contribute nothing.
    """
    known = _embedded_index()
    out: dict[str, str] = {}
    for seq in seqs:
        for src in seq.checksum_source():
            path = Path(src)
            key = f"{seq.name}/{path.name}"
            if key in out:
                raise ConfigError(f"two sequences named {seq.name!r} both read {path.name}; "
                                  "sequence names must be unique")
            out[key] = known.get(str(path)) or sha256_file(path)
    return out
