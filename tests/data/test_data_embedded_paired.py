"""The embedded paired splits: clean frames are the base split's, degraded frames are the preset's rendering of
them with the recorded seed, and each split's frames hash to the committed digest (fixed seed → fixed bytes)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from workbench.data import embedded
from workbench.data.catalog import dataset_checksums, open_dataset
from workbench.data.embedded_paired import PAIRED_SPLITS, check_paired_split, paired_dir
from workbench.data.paired import split_pair
from workbench.degrade import embedded_paired as build

#: sha256 over "<file> <sha256>\n" of every degraded frame, in manifest order (regenerate only after a
#: deliberate change of a preset or the rain/haze model, with PAIRED_RECIPE_VERSION bumped)
GOLDEN = {
    "embedded-haze-test": "1cfae4b0dbd1ca0a5fcb7f13a490c1be2d12e4c74c26f7679f019dd156874df6",
    "embedded-haze-train": "a3bac26656d264760e3211910fdda6321106729cf8d2973ff4cb14f89d610477",
    "embedded-rain-test": "97c238a88a9c3a71b8c145aa35f08ed9b008055549f21097aa6d46e9a6d2b84e",
    "embedded-rain-train": "1dcce9da844530702a87eb7dfe91018373cf4fb06ce900e1237654ada7754977",
    "embedded-rainstreak-test": "2cd56617f4785873627ae3ee1753c8a21f8728963830cc1466f5782a83969623",
    "embedded-rainstreak-train": "da00a7c9c2fef50cadc2121f0be2c7d5f39b09c0b90d0fd9d7d6c88dc2a6037d",
    "embedded-mini-haze-test": "81db1645b09f4df35b4b55412cc26787f9a000bd42a070c62981e9d974addf7c",
    "embedded-mini-haze-train": "4a605cc6a713cc98450bf604f86f722f137c022cc868065618fd7de7b151c670",
    "embedded-mini-rain-test": "9fb6b42189f36570e94239a88f5b7e93fe45195f2437cd0fdeac756afbce2f73",
    "embedded-mini-rain-train": "c5361069d18f95a4e30ba955d1528394cf1efa0e082363e06192e3c38fc2ef67",
    "embedded-mini-rainstreak-test": "bc4737df14d25cdd3dde711912c55d230068263feffd9084fc67a0d9662f0fb7",
    "embedded-mini-rainstreak-train": "ddfebf289e2e3479a17782f4f34aba58cd4b5b054cd0be1a87c5873ea1cb6267",
}


def split_digest(split: str) -> str:
    return split_digest_at(paired_dir(split))


@pytest.mark.parametrize("split", sorted(PAIRED_SPLITS))
def test_split_matches_its_golden_digest_and_checks_clean(split: str) -> None:
    build.ensure_paired_split(split)
    assert split_digest(split) == GOLDEN[split]
    assert check_paired_split(split) == []


def test_pairs_are_the_base_frames_and_their_rendering() -> None:
    split = "embedded-rain-test"
    build.ensure_paired_split(split)
    manifest = json.loads((paired_dir(split) / "manifest.json").read_text())
    pairs = open_dataset(split, max_frames=4)
    base = embedded.open_embedded("embedded-test", max_frames=4)
    assert [p.name for p in pairs] == [b.name for b in base]
    seq, ref = pairs[1], base[1]
    seed = manifest["sequences"][1]["seed"]
    assert seed == build.sequence_seed("rain-accumulation", split, seq.name)
    for t in range(4):
        degraded, clean = split_pair(seq.frame(t))
        assert np.array_equal(clean, ref.frame(t))
        rendered = build.to_uint8(build.degrade_frame("rain-accumulation", ref.frame(t), seed, t))
        assert np.array_equal(np.round(degraded * 255).astype(np.uint8), rendered)
    sums = dataset_checksums(pairs[:1])
    assert len(sums) == 8 and all(len(v) == 64 for v in sums.values())


def test_a_tampered_frame_is_reported(tmp_path: Path, monkeypatch) -> None:
    # a private copy of the paired split (the base split stays in the shared cache)
    from workbench.data import embedded_paired as ep

    def private(split: str) -> Path:
        return tmp_path / split

    monkeypatch.setattr(ep, "paired_dir", private)
    monkeypatch.setattr(build, "paired_dir", private)
    split = "embedded-haze-test"
    folder = build.ensure_paired_split(split)
    assert folder == tmp_path / split and check_paired_split(split) == []
    assert split_digest_at(folder) == GOLDEN[split]  # a second build, in another folder: the same bytes
    frame = folder / "coffee" / "00003.png"
    frame.write_bytes(frame.read_bytes()[:-20] + b"\0" * 20)
    problems = check_paired_split(split)
    assert len(problems) == 1 and "coffee/00003.png: sha256 differs" in problems[0]
    (folder / "manifest.json").unlink()
    assert "not built" in check_paired_split(split)[0]


def split_digest_at(folder: Path) -> str:
    manifest = json.loads((folder / "manifest.json").read_text())
    lines = "".join(f"{e['file']} {e['sha256']}\n" for s in manifest["sequences"] for e in s["frames"])
    return hashlib.sha256(lines.encode()).hexdigest()
