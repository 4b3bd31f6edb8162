"""Datasets by name: one entry point for pipelines, the CLI and manifests.

Names: ``set8`` (test, 85 frames per sequence by default), ``davis2017-train`` (DAVIS-2017 trainval 480p),
``embedded-train`` and ``embedded-test`` (built from package media, no download); the paired deraining and
dehazing sets ``rainsyn-light25``, ``rainsyn-complex25``, ``rainsyn-all100``, ``nturain``, ``revide-indoor``
(each with a ``-train`` split; :mod:`workbench.data.rainsyn`, :mod:`workbench.data.revide`) and their embedded
stand-ins ``embedded-{rain,rainstreak,haze}-{train,test}`` (:mod:`workbench.data.embedded_paired`), whose
sequences are degraded/clean pairs (:class:`~workbench.data.paired.StackedPair`); raw video (Table 2):
``crvd`` (checks scenes 1–11, opens the test scenes 7–11, capture noisy0), ``crvd-train`` (scenes 1–6,
every capture), ``srvd`` and the embedded raw clips ``embedded-raw-train`` / ``embedded-raw-test``. On-disk
sets are looked up under the data root (``root`` argument, else ``$WORKBENCH_DATA``, else ``<repo>/data``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.data import crvd, davis, embedded, embedded_paired, embedded_raw, rainsyn, revide, set8, srvd, weights
from workbench.data.paired import StackedPair
from workbench.data.paired_bench import PairedLayout, check_layout, open_layout
from workbench.data.readers import sha256_file
from workbench.data.sequence import Sequence
from workbench.errors import ConfigError
from workbench.paths import data_root
from workbench.registry import Registry


@dataclass(frozen=True)
class DatasetEntry:
    """How to open and check one named dataset.

    ``open(root, max_frames)`` returns its sequences, ``check(root, deep)`` its layout problems (one line
    each); ``root`` is the resolved data root; ``default_max_frames`` is the protocol's cut (Set8: 85).
    ``names`` are its sequence names when fixed (Set8) and ``open_part(root, max_frames, names)`` opens a
    part of it without requiring the rest on disk; other sets are opened whole and filtered."""

    open: Callable[[Path, int | None], list[Sequence]]
    check: Callable[[Path, bool], list[str]]
    default_max_frames: int | None = None
    names: tuple[str, ...] = ()
    open_part: Callable[[Path, int | None, tuple[str, ...]], list[Sequence]] | None = None


#: dataset name → :class:`DatasetEntry`
DATASETS: Registry[DatasetEntry] = Registry("dataset")


def _embedded_entry(name: str) -> DatasetEntry:
    def check(root: Path, deep: bool) -> list[str]:
        return embedded.check_embedded(name)

    return DatasetEntry(open=lambda root, n: embedded.open_embedded(name, max_frames=n), check=check)


DATASETS.add("set8", DatasetEntry(open=lambda root, n: set8.open_set8(root, max_frames=n),
                                  check=lambda root, deep: set8.check_set8(root, deep=deep),
                                  default_max_frames=set8.MAX_FRAMES, names=set8.SEQUENCES,
                                  open_part=lambda root, n, names: set8.open_set8(root, max_frames=n,
                                                                                  sequences=names)))
DATASETS.add("davis2017-train", DatasetEntry(open=lambda root, n: davis.open_davis(root, max_frames=n),
                                             check=lambda root, deep: davis.check_davis(root, deep=deep)))
for _split in embedded.ALL_SPLITS:
    DATASETS.add(_split, _embedded_entry(_split))


# raw video (Table 2): paired CRVD sequences (stacked noisy | clean | noise parameters) and clean raw clips
DATASETS.add("crvd", DatasetEntry(
    open=lambda root, n: list(crvd.open_crvd(root, scenes=crvd.TEST_SCENES, max_frames=n)),
    check=lambda root, deep: crvd.check_crvd(root)))
DATASETS.add("crvd-train", DatasetEntry(
    open=lambda root, n: list(crvd.open_crvd(root, scenes=crvd.TRAIN_SCENES, captures=crvd.CAPTURES, max_frames=n)),
    check=lambda root, deep: crvd.check_crvd(root, scenes=crvd.TRAIN_SCENES)))
DATASETS.add("srvd", DatasetEntry(open=lambda root, n: srvd.open_srvd(root, max_frames=n),
                                  check=lambda root, deep: srvd.check_srvd(root)))


def _embedded_raw_entry(name: str) -> DatasetEntry:
    def check(root: Path, deep: bool) -> list[str]:
        return embedded_raw.check_embedded_raw(name)

    return DatasetEntry(open=lambda root, n: embedded_raw.open_embedded_raw(name, max_frames=n), check=check)


for _raw in embedded_raw.RAW_SPLITS:
    DATASETS.add(_raw, _embedded_raw_entry(_raw))


def _not_a_dataset(root: Path, n: int | None) -> list[Sequence]:
    raise ConfigError("spynet-weights is a weights folder, not a dataset; use it as train.motion.init: data-root")


# deraining and dehazing benchmarks (docs/protocols.md §3-4) and their embedded stand-ins: degraded/clean pairs
def _layout_entry(layout: PairedLayout) -> DatasetEntry:
    return DatasetEntry(open=lambda root, n: open_layout(layout, root, max_frames=n),
                        check=lambda root, deep: check_layout(layout, root, deep=deep))


for _name, _layout in {**rainsyn.LAYOUTS, **revide.LAYOUTS}.items():
    DATASETS.add(_name, _layout_entry(_layout))
def _paired_split_entry(split: str) -> DatasetEntry:
    return DatasetEntry(open=lambda root, n: embedded_paired.open_paired_split(split, max_frames=n),
                        check=lambda root, deep: embedded_paired.check_paired_split(split))


for _paired in embedded_paired.PAIRED_SPLITS:
    DATASETS.add(_paired, _paired_split_entry(_paired))

# checked like a dataset (``workbench data check spynet-weights``), never opened as one
DATASETS.add("spynet-weights", DatasetEntry(open=_not_a_dataset, check=weights.check_spynet_weights))
DATASET_NAMES = tuple(DATASETS.names())
PAIRED_DATASETS = frozenset({*rainsyn.LAYOUTS, *revide.LAYOUTS, *embedded_paired.PAIRED_SPLITS})


def is_paired_dataset(name: str) -> bool:
    """Whether ``name``'s sequences are degraded/clean pairs (deraining, dehazing), not clean frames."""
    return name in PAIRED_DATASETS


def _entry(name: str) -> DatasetEntry:
    return DATASETS.get(name)


def open_dataset(name: str, *, root: Path | None = None, max_frames: int | None = None,
                 max_sequences: int | None = None, sequences: list[str] | None = None) -> list[Sequence]:
    """The sequences of dataset ``name``; ``max_frames`` overrides the default cut (Set8: 85);
    ``sequences`` keeps the named ones (in the dataset's order; the others need not be on disk for Set8);
    ``max_sequences`` then keeps the first sequences only.

    Raises :class:`~workbench.errors.ConfigError` for an unknown dataset or sequence name and
    :class:`~workbench.errors.DatasetError` (first layout problem) for a missing or mis-laid dataset.
    """
    entry = _entry(name)
    limit = max_frames if max_frames is not None else entry.default_max_frames
    if sequences and entry.names and entry.open_part is not None:
        _check_names(name, sequences, entry.names)
        seqs = entry.open_part(data_root(root), limit, tuple(sequences))
    else:
        seqs = entry.open(data_root(root), limit)
        if sequences:
            _check_names(name, sequences, tuple(s.name for s in seqs))
            seqs = [s for s in seqs if s.name in sequences]
    return seqs[:max_sequences] if max_sequences else seqs


def dataset_size(name: str, *, root: Path | None = None) -> int:
    """How many sequences the whole dataset ``name`` has (Set8: 8, whether or not all are on disk)."""
    entry = _entry(name)
    return len(entry.names) if entry.names else len(entry.open(data_root(root), 1))


def _check_names(dataset: str, wanted: list[str], known: tuple[str, ...]) -> None:
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ConfigError(f"sequences: {', '.join(map(repr, unknown))} not in {dataset}; "
                          f"its sequences: {', '.join(known)}")


def check_dataset(name: str, root: Path | None = None, *, deep: bool = False) -> list[str]:
    """Problems with dataset ``name`` (one line each, naming the path and the fix); ``[]`` if usable."""
    return _entry(name).check(data_root(root), deep)


#: the last :func:`_embedded_index`, keyed by the manifests' :func:`_manifest_signature`
_INDEX_MEMO: dict[tuple[tuple[str, int, int, int], ...], dict[str, str]] = {}


def _manifest_signature() -> tuple[tuple[str, int, int, int], ...]:
    """(path, inode, size, mtime in ns) of every embedded manifest on disk: a rebuilt or rewritten split changes it."""
    paths = [embedded.split_dir(s) / "manifest.json" for s in embedded.ALL_SPLITS]
    paths += [embedded_paired.paired_dir(s) / "manifest.json" for s in embedded_paired.PAIRED_SPLITS]
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _embedded_index() -> dict[str, str]:
    """Absolute path → sha256 for every file listed in the embedded manifests that exist on disk (a copy).

    Read once per state of the manifests (:func:`_manifest_signature`): a run's plan asks for it once per
    cell, and reading the ~11,000 entries (the paired manifests' completeness checks included) took 13.5 s of
    the 59 s plan of a fresh mini reproduce over 156 calls."""
    sig = _manifest_signature()
    if sig not in _INDEX_MEMO:
        _INDEX_MEMO.clear()
        _INDEX_MEMO[sig] = _read_embedded_index()
    return dict(_INDEX_MEMO[sig])


def _read_embedded_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for split in embedded.ALL_SPLITS:
        folder = embedded.split_dir(split)
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            continue
        manifest = json.loads(manifest_path.read_text())
        for seq in manifest["sequences"]:
            for entry in seq["frames"]:
                index[str(folder / entry["file"])] = entry["sha256"]
    for split in embedded_paired.PAIRED_SPLITS:
        index.update(embedded_paired.manifest_checksums(split))
    return index


def dataset_checksums(seqs: list[Sequence]) -> dict[str, str]:
    """sha256 of every frame file the sequences read, keyed ``"<sequence>/<file name>"`` (a degraded/clean
    pair: ``"<sequence>/degraded/<file name>"`` and ``"<sequence>/clean/<file name>"``).

    Embedded sets take the digests from their manifest; other files are hashed. Sequences without file
    sources (in-memory arrays) contribute nothing.
    """
    known = _embedded_index()
    out: dict[str, str] = {}
    for seq in seqs:
        parts = [("degraded", seq.degraded), ("clean", seq.clean)] if isinstance(seq, StackedPair) else [("", seq)]
        for role, part in parts:
            prefix = f"{seq.name}/{role}" if role else seq.name
            for src in part.checksum_source():
                path = Path(src)
                key = f"{prefix}/{path.name}"
                if key in out:
                    raise ConfigError(f"two sequences named {seq.name!r} both read {path.name}; "
                                      "sequence names must be unique")
                if str(path) not in known:  # a file read by several sequences (CRVD's ground truth) is hashed once
                    known[str(path)] = sha256_file(path)
                out[key] = known[str(path)]
    return out
