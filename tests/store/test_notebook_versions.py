"""`workbench notebook` never writes into a published version: it publishes a re-rendered new one."""

import json
import shutil
from pathlib import Path

import pytest
from store_helpers import one_error_line, tree_digest

from workbench.store import versions

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def published(root):
    """The repository's table1/smoke/v0001, published in the tmp store and indexed."""
    v1 = root / "table1" / "smoke" / "v0001"
    shutil.copytree(REPO / "results" / "table1" / "smoke" / "v0001", v1)
    versions.read_index(root)
    return v1


def test_notebook_on_a_published_version_publishes_a_new_one_and_leaves_it_byte_identical(root, published, cli):
    before = tree_digest(published)
    r = cli("notebook", "restoration", "--version-dir", str(published))
    assert r.returncode == 0, r.stderr
    assert tree_digest(published) == before
    v2 = published.parent / "v0002"
    assert r.stdout.strip() == str(v2)
    for name in ("measured.csv", "comparison.csv", "reported.csv", "restoration.ipynb", "figures/table1.png",
                 "figures/table1.csv"):
        assert (v2 / name).is_file(), name
    assert (v2 / "measured.csv").read_bytes() == (published / "measured.csv").read_bytes()
    manifest = json.loads((v2 / "manifest.json").read_text())
    assert manifest["note"] == "re-rendered from v0001 with notebook restoration"
    assert manifest["provenance"] == json.loads((published / "manifest.json").read_text())["provenance"]
    assert [r["version"] for r in versions.read_index(root)] == ["v0001", "v0002"]
    assert "re-rendered from v0001" in cli("results", "list").stdout
    assert not list(published.parent.glob(".staging-*"))


@pytest.mark.parametrize("args, needle", [
    (["nosuchnotebook"], "notebook not found"),
    (["restoration", "-p", "table_id=nosuchtable"], "table_id='nosuchtable'"),
    (["restoration", "-p", "version_dir=/elsewhere"], "version_dir"),
    (["restoration", "-p", "colour=red"], "unknown notebook parameter 'colour'"),
])
def test_bad_notebook_arguments_exit_2_with_one_line_and_write_nothing(root, published, cli, args, needle):
    before = tree_digest(root)
    r = cli("notebook", args[0], "--version-dir", str(published), *args[1:])
    assert needle in one_error_line(r)
    assert tree_digest(root) == before


def test_notebook_refuses_a_folder_that_is_not_a_published_version(root, published, tmp_path, cli):
    loose = tmp_path / "loose"
    shutil.copytree(published, loose)
    before = tree_digest(tmp_path)
    r = cli("notebook", "restoration", "--version-dir", str(loose))
    assert "not a published results version" in one_error_line(r)
    assert tree_digest(tmp_path) == before
