"""The embedded mini datasets: deterministic build, disjoint splits, ground-truth flow, manifests."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.data import embedded
from workbench.data.catalog import check_dataset, dataset_checksums, open_dataset
from workbench.errors import ConfigError, DatasetError
from workbench.models.warp import flow_warp


@pytest.fixture(scope="module")
def built_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One fresh build of both splits into a private cache root."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_CACHE", str(cache))
        embedded.ensure_embedded()
    return cache


@pytest.fixture()
def cache_a(built_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_CACHE", str(built_cache))
    return built_cache


def test_tampered_set_is_detected_and_rebuild_is_deterministic(
        built_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE", str(built_cache))
    reference = {split: embedded.manifest_checksums(split) for split in embedded.SPLITS}
    assert all(len(v) >= 4 * 16 for v in reference.values())
    cache = tmp_path / "cache"
    shutil.copytree(built_cache, cache)
    monkeypatch.setenv("WORKBENCH_CACHE", str(cache))
    root = embedded.embedded_root()
    victim = root / "embedded-train" / "ihc" / "00003.png"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the sha256 check sees it
    victim.write_bytes(bytes(data))
    problems = check_dataset("embedded-train", None)
    assert len(problems) == 1 and problems[0].startswith(f"{victim}: sha256 differs")
    # an incomplete split is rebuilt from scratch (each split on its own: the other is left as it is)
    (root / "embedded-train" / "manifest.json").unlink()
    embedded.ensure_embedded()
    assert {split: embedded.manifest_checksums(split) for split in embedded.SPLITS} == reference
    assert check_dataset("embedded-train", None) == []  # the tampered frame was rebuilt with its split
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_splits_layout_and_disjoint(cache_a: Path) -> None:
    manifests = {s: json.loads((embedded.embedded_root() / s / "manifest.json").read_text())
                 for s in embedded.SPLITS}
    sources = {s: {(q["source"]["package"], q["source"]["path"]) for q in m["sequences"]}
               for s, m in manifests.items()}
    assert not sources["embedded-train"] & sources["embedded-test"]
    digests = {s: set(embedded.manifest_checksums(s).values()) for s in embedded.SPLITS}
    assert not digests["embedded-train"] & digests["embedded-test"]
    for split, manifest in manifests.items():
        assert manifest["recipe_version"] == embedded.recipe.RECIPE_VERSION and 4 <= len(manifest["sequences"]) <= 6
        kinds = {q["kind"] for q in manifest["sequences"]}
        assert kinds == {"camera", "synthetic-motion"}
        seqs = open_embedded_checked(split)
        assert [s.name for s in seqs] == [q["name"] for q in manifest["sequences"]]
    entry = manifests["embedded-test"]["sequences"][0]["frames"][0]
    assert set(entry) >= {"file", "sha256", "bytes", "height", "width"}


def open_embedded_checked(split: str) -> list:
    seqs = embedded.open_embedded(split, max_frames=4)
    for seq in seqs:
        assert len(seq) == 4 and seq.shape == (96, 160, 3)
        frame = seq.frame(3)
        assert frame.dtype == np.float32 and 0.0 <= frame.min() and frame.max() <= 1.0
    return seqs


def test_ground_truth_flow_warps_previous_frame(cache_a: Path) -> None:
    checked = 0
    for split in embedded.SPLITS:
        for seq in embedded.open_embedded(split):
            try:
                flow, valid = embedded.embedded_flow(split, seq.name)
            except DatasetError as exc:
                assert "real camera clip" in str(exc)
                continue
            frames = torch.from_numpy(np.stack(list(seq.frames()))).permute(0, 3, 1, 2)
            t, _, h, w = frames.shape
            assert flow.shape == (t, 2, h, w) and valid.shape == (t, h, w) and not valid[0].any()
            assert 0.9 < valid[1:].mean() < 1.0  # border pixels whose source left the frame are masked
            mask = torch.from_numpy(valid[1:])
            warped = flow_warp(frames[:-1], torch.from_numpy(flow[1:]))
            err = (warped - frames[1:]).abs().mean(1)[mask].mean().item()
            err_zero = (frames[:-1] - frames[1:]).abs().mean(1)[mask].mean().item()
            warped_neg = flow_warp(frames[:-1], -torch.from_numpy(flow[1:]))
            err_neg = (warped_neg - frames[1:]).abs().mean(1)[mask].mean().item()
            assert err < 0.02 and err < 0.35 * err_zero and err < 0.25 * err_neg, (seq.name, err, err_zero)
            checked += 1
    assert checked >= 4


def test_catalog_and_checksums(cache_a: Path) -> None:
    seqs = open_dataset("embedded-test", max_frames=3)
    sums = dataset_checksums(seqs)
    manifest = embedded.manifest_checksums("embedded-test")
    assert len(sums) == 3 * len(seqs) and all(manifest[k] == v for k, v in sums.items())
    assert check_dataset("embedded-test", None) == []
    with pytest.raises(ConfigError, match="unknown dataset 'set9'; known: ") as err:
        open_dataset("set9")
    for name in ("davis2017-train", "embedded-mini-test", "embedded-mini-train", "embedded-test", "embedded-train",
                 "set8", "spynet-weights"):  # the registry lists every id (other tables add theirs)
        assert name in str(err.value)
    with pytest.raises(ConfigError, match="no sequence"):
        embedded.embedded_flow("embedded-test", "nope")
