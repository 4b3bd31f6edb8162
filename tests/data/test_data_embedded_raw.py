"""The embedded raw clips: CRVD layout read by the CRVD reader, the committed digest, noise per ISO."""

import json

import numpy as np

from workbench.data.catalog import check_dataset, open_dataset
from workbench.data.crvd import split_stacked
from workbench.data.embedded_raw import committed_digests, ensure_raw_split, files_digest


def test_committed_digests_match_the_build() -> None:
    for split, digest in committed_digests().items():
        manifest = json.loads((ensure_raw_split(split) / "manifest.json").read_text())
        assert files_digest(manifest["files"]) == manifest["files_digest"] == digest
        assert check_dataset(split) == []


def test_test_split_is_crvd_layout_with_noise_growing_with_iso() -> None:
    seqs = open_dataset("embedded-raw-test")
    assert len(seqs) == 25 and len(seqs[0]) == 7 and seqs[0].shape == (48, 80, 10)
    errs = []
    for seq in seqs[:5]:  # scene1 at the five ISOs
        noisy, clean, _ = split_stacked(seq.frame(0))
        errs.append(float(np.mean((noisy - clean) ** 2)))
    assert errs == sorted(errs)


def test_train_split_is_clean_packed_raw() -> None:
    seqs = open_dataset("embedded-raw-train")
    assert len(seqs) == 5 and seqs[0].shape == (48, 80, 4) and seqs[0].kind == "raw"
    x = seqs[0].frame(0)
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_mini_family_is_committed_and_built_from_the_mini_clips() -> None:
    assert {"embedded-mini-raw-train", "embedded-mini-raw-test"} <= set(committed_digests())
    test = open_dataset("embedded-mini-raw-test")
    assert len(test) == 30 and {len(s) for s in test} == {7} and test[0].shape == (48, 80, 10)
    train = open_dataset("embedded-mini-raw-train")
    assert len(train) == 10 and sum(len(s) for s in train) == 1020
    assert {s.shape for s in train} == {(72, 128, 4), (72, 88, 4), (64, 112, 4)}
