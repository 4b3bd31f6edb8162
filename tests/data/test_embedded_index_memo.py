"""The embedded checksum index (workbench/data/catalog.py) is read once per state of the manifests: a run's
plan asks for it once per cell; a rewritten manifest is read again, and callers get their own copy."""

import json
from pathlib import Path

from workbench.data import catalog


def _manifest(folder: Path, digest: str, note: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    body = {"note": note, "sequences": [{"name": "s", "frames": [{"file": "s/0000.png", "sha256": digest}]}]}
    (folder / "manifest.json").write_text(json.dumps(body))


def test_read_once_per_manifest_state_and_copied(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(catalog.embedded, "ALL_SPLITS", ("a", "b"))
    monkeypatch.setattr(catalog.embedded, "split_dir", lambda split: tmp_path / split)
    monkeypatch.setattr(catalog.embedded_paired, "PAIRED_SPLITS", {})
    monkeypatch.setattr(catalog, "_INDEX_MEMO", {})
    reads = []
    real = catalog._read_embedded_index
    monkeypatch.setattr(catalog, "_read_embedded_index", lambda: reads.append(1) or real())
    _manifest(tmp_path / "a", "11" * 32)
    first = catalog._embedded_index()
    assert first == {str(tmp_path / "a" / "s/0000.png"): "11" * 32}
    first.clear()  # the caller's copy: the memo keeps its own
    assert catalog._embedded_index() == {str(tmp_path / "a" / "s/0000.png"): "11" * 32}
    assert len(reads) == 1
    _manifest(tmp_path / "b", "22" * 32)  # a split built since
    assert catalog._embedded_index()[str(tmp_path / "b" / "s/0000.png")] == "22" * 32
    _manifest(tmp_path / "a", "33" * 32, note="rebuilt")  # rewritten in place: another size
    assert catalog._embedded_index()[str(tmp_path / "a" / "s/0000.png")] == "33" * 32
    assert len(reads) == 3
