"""`workbench results list` tells versions of one table apart."""

from store_helpers import publish_one


def test_results_list_shows_commit_kind_overrides_and_note(root, cli):
    publish_one(root, "table1", "smoke", commit="1111111111" + "a" * 30)
    publish_one(root, "table1", "smoke", commit="2222222222" + "b" * 30, result_kind="reproduction",
                overrides={"train": {"steps": 3}, "evaluate": {"max_frames": 2}})
    r = cli("results", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["table", "profile", "version", "created", "commit", "kind", "overrides", "note"]
    v1 = next(line for line in lines if "v0001" in line)
    v2 = next(line for line in lines if "v0002" in line)
    assert "1111111111" in v1 and "pipeline check" in v1
    assert "2222222222" in v2 and "reproduction" in v2 and "evaluate.max_frames=2,train.steps=3" in v2
