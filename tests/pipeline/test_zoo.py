"""The model zoo: a profile with ``zoo: true`` trains once, publishes, then serves its rows from the zoo;
a stale or unloadable entry is retrained loudly; ``retrain`` never touches the zoo; the shared SPyNet is
stored once and checked."""

import hashlib
import json
import shutil

import pandas as pd
import pytest
import torch

from workbench.checkpoint import read_state_dict
from workbench.errors import CheckpointError
from workbench.pipeline import restoration, zoo
from workbench.pipeline.runner import run_pipeline
from workbench.zoo import build_model

SPEC = """
id: {id}
title: tiny zoo check
notebook: restoration
profiles:
  tiny:
    kind: mini evidence
    zoo: true
    dataset_map: {{embedded-test: set8}}
    reported_tables: [table1]
    defaults:
      kind: restoration
      train: {{steps: {steps}, batch_size: 1, patch_size: 32, clip_frames: 3, log_every: 1, checkpoint_every: 1,
              motion: {{init: embedded-pretrained, frozen_until: 1.0}}}}
      evaluate: {{dataset: embedded-test, sigmas: [30], max_frames: 3, max_sequences: 1}}
    cells:
      - {{name: bv, method: basicvsr-uni, model: basicvsr-uni, model_args: {{num_feat: 4, num_block: 1}}}}
"""


def _spec(tmp, steps=2, name="tinyzoo"):
    path = tmp / f"{name}.yaml"
    path.write_text(SPEC.format(id=name, steps=steps))
    return str(path)


def _rows(summary):
    m = pd.read_csv(summary.version_dir / "measured.csv")
    return m[m["method"] == "basicvsr-uni"]


def _entry(isolated):
    folders = [p for p in (isolated / "results" / "zoo" / "tiny").iterdir() if p.name != "shared"]
    assert len(folders) == 1
    return folders[0]


def test_trains_once_then_serves_from_the_zoo(isolated, capsys):
    first = run_pipeline(_spec(isolated), "tiny", notebook=False)
    assert "not in the zoo" in capsys.readouterr().err
    entry = _entry(isolated)
    manifest = json.loads((entry / "manifest.json").read_text())
    for key in ("config_hash", "code_commit", "train_data_sha256", "steps", "wall_s", "device", "torch", "last_log"):
        assert manifest[key] not in (None, ""), key
    assert manifest["steps"] == 2 and manifest["config"]["train"]["steps"] == 2
    # the frozen SPyNet is stored once, not in the entry
    assert not any(k.startswith("spynet.") for k in read_state_dict(entry / "model.pt"))
    shared = isolated / "results" / "zoo" / "tiny" / manifest["shared"]["spynet"]["file"]
    assert hashlib.sha256(shared.read_bytes()).hexdigest() == manifest["shared"]["spynet"]["sha256"]

    shutil.rmtree(isolated / "runs")  # no cached training or cell: only the zoo can serve the model
    second = run_pipeline(_spec(isolated), "tiny", notebook=False)
    assert "ZOO WARNING" not in capsys.readouterr().err
    a, b = _rows(first), _rows(second)
    assert set(a["train_source"]) == {"trained now"} and set(b["train_source"]) == {"zoo"}
    pd.testing.assert_series_equal(a["value"].reset_index(drop=True), b["value"].reset_index(drop=True))
    assert not (isolated / "runs" / "train").exists()  # nothing was trained


def test_stale_config_is_retrained_loudly(isolated, capsys):
    run_pipeline(_spec(isolated, steps=2), "tiny", notebook=False)
    old = json.loads((_entry(isolated) / "manifest.json").read_text())["config_hash"]
    capsys.readouterr()
    out = run_pipeline(_spec(isolated, steps=3), "tiny", notebook=False)
    err = capsys.readouterr().err
    assert "ZOO WARNING" in err and "no longer matches" in err and "retraining basicvsr-uni" in err
    assert set(_rows(out)["train_source"]) == {"trained now"}
    new = json.loads((_entry(isolated) / "manifest.json").read_text())
    assert new["config_hash"] != old and new["steps"] == 3  # the zoo now holds the retrained model


def test_entry_that_no_longer_loads_is_retrained(isolated, capsys):
    run_pipeline(_spec(isolated), "tiny", notebook=False)
    entry = _entry(isolated)
    state = read_state_dict(entry / "model.pt")
    state.pop(sorted(state)[0])
    torch.save(state, entry / "model.pt")
    shutil.rmtree(isolated / "runs")
    capsys.readouterr()
    out = run_pipeline(_spec(isolated), "tiny", notebook=False)
    err = capsys.readouterr().err
    assert "ZOO WARNING" in err and "missing" in err.lower()
    assert set(_rows(out)["train_source"]) == {"trained now"}


def test_retrain_trains_from_scratch_and_leaves_the_zoo_alone(isolated):
    first = run_pipeline(_spec(isolated), "tiny", notebook=False)
    entry = _entry(isolated)
    before = {p.name: p.read_bytes() for p in entry.iterdir()}
    again = run_pipeline(_spec(isolated), "tiny", notebook=False, retrain=True)
    assert set(_rows(again)["train_source"]) == {"trained now"}
    assert {p.name: p.read_bytes() for p in entry.iterdir()} == before
    # CPU training is deterministic: from scratch, the same numbers
    pd.testing.assert_series_equal(_rows(first)["value"].reset_index(drop=True),
                                   _rows(again)["value"].reset_index(drop=True))


def test_retrain_uses_the_entrys_thread_count(isolated, monkeypatch):
    """--retrain trains with the thread count in the entry's manifest (the bits depend on it), then restores."""
    run_pipeline(_spec(isolated), "tiny", notebook=False)
    manifest_path = _entry(isolated) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    manifest["threads"] = wanted
    manifest_path.write_text(json.dumps(manifest))
    seen = []
    real_train = restoration.train

    def spy(**kwargs):
        seen.append(torch.get_num_threads())
        return real_train(**kwargs)

    monkeypatch.setattr(restoration, "train", spy)
    run_pipeline(_spec(isolated), "tiny", notebook=False, retrain=True)
    assert seen == [wanted] and torch.get_num_threads() == before


def test_tampered_shared_spynet_is_refused_in_one_line(isolated):
    run_pipeline(_spec(isolated), "tiny", notebook=False)
    entry = _entry(isolated)
    manifest = json.loads((entry / "manifest.json").read_text())
    shared = isolated / "results" / "zoo" / "tiny" / manifest["shared"]["spynet"]["file"]
    shared.write_bytes(shared.read_bytes()[:-10] + b"0123456789")
    zoo_dir = entry.parent
    hit = zoo.find(zoo_dir, entry.name, manifest["config"])
    assert hit.status == "match"
    model = build_model("basicvsr-uni", {"num_feat": 4, "num_block": 1}, seed=0, where="test")
    with pytest.raises(CheckpointError, match="shared SPyNet") as info:
        zoo.load_entry(model, hit, zoo_dir)
    assert "\n" not in str(info.value) and "git checkout" in str(info.value)


def test_entry_names_are_stable_and_distinguish_arguments_and_seeds():
    a = zoo.entry_name("ncfl", {"preset": "Md", "width_scale": 0.25}, 0)
    assert a == zoo.entry_name("ncfl", {"width_scale": 0.25, "preset": "Md"}, 0)  # key order does not matter
    assert a != zoo.entry_name("ncfl", {"preset": "Mc", "width_scale": 0.25}, 0)
    assert a.endswith("-s0") and zoo.entry_name("ncfl", {"preset": "Md", "width_scale": 0.25}, 2).endswith("-s2")


def test_zoo_check_retrains_an_entry_to_the_same_psnr(isolated, cli):
    run_pipeline(_spec(isolated), "tiny", notebook=False)
    name = _entry(isolated).name
    listing = cli("zoo", "list", "--profile", "tiny")
    assert listing.returncode == 0 and name in listing.stdout
    r = cli("zoo", "check", name, "--profile", "tiny", "--dataset", "embedded-test", "--sigma", "30")
    assert r.returncode == 0, r.stderr
    assert "within tolerance" in r.stdout and "Δ +0.0000 dB" in r.stdout
    assert "trained on" not in r.stdout  # same processor: no warning
    manifest_path = _entry(isolated) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["device"]["cpu_model"] and manifest["device"]["cpu_capability"]
    manifest["device"].update(cpu_model="Another CPU", cpu_capability="AVX2")
    manifest_path.write_text(json.dumps(manifest))
    other = cli("zoo", "check", name, "--profile", "tiny", "--dataset", "embedded-test", "--sigma", "30")
    assert other.returncode == 0 and "trained on Another CPU (AVX2), retrained on " in other.stdout
    missing = cli("zoo", "check", "nope-s0", "--profile", "tiny")
    assert missing.returncode == 2 and "no zoo entry 'nope-s0'" in missing.stderr


def test_the_zoo_prior_fills_an_empty_cache_and_never_overwrites(tmp_path, monkeypatch):
    zoo_dir = tmp_path / "zoo" / "mini"
    shared = zoo_dir / "shared" / "spynet-0123456789abcdef"
    shared.mkdir(parents=True)
    (shared / "spynet.pth").write_bytes(b"weights")
    (shared / "report.json").write_text("{}")
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    filled = zoo.install_prior(zoo_dir)
    target = tmp_path / "cache" / "spynet" / "0123456789abcdef"
    assert filled == [target] and (target / "spynet.pth").read_bytes() == b"weights"
    (target / "spynet.pth").write_bytes(b"made here")
    assert zoo.install_prior(zoo_dir) == [] and (target / "spynet.pth").read_bytes() == b"made here"


def test_compressed_weights_load_equal_and_are_smaller(tmp_path):
    from workbench.checkpoint import save_state_dict_compressed, save_weights

    model = build_model("ncfl", {"preset": "Md", "width_scale": 0.125, "cab_blocks": 1}, seed=0, where="test")
    save_weights(tmp_path / "plain.pt", model)
    save_state_dict_compressed(tmp_path / "small.pt", model.state_dict())
    a, b = read_state_dict(tmp_path / "plain.pt"), read_state_dict(tmp_path / "small.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "small.pt").stat().st_size < 0.97 * (tmp_path / "plain.pt").stat().st_size


def test_result_rows_carry_no_machine_paths(isolated):
    from workbench.paths import results_root
    from workbench.pipeline.runner import portable_frame

    path = str(results_root() / "zoo" / "mini" / "ncfl-0-s0")
    frame = pd.DataFrame({"train_run": pd.Series([path], dtype="str"), "other": pd.Series([path], dtype=object),
                          "value": [1.5]})
    out = portable_frame(frame)
    assert list(out["train_run"]) == ["<results>/zoo/mini/ncfl-0-s0"] == list(out["other"])
    assert list(out["value"]) == [1.5]


def test_storage_halves_large_floating_tensors_only():
    state = {"w": torch.randn(64, 16, 3, 3), "b": torch.randn(64), "n": torch.tensor(7),
             "h": torch.randn(2048).half()}
    stored, info = zoo.storage_state(state)
    assert stored["w"].dtype == torch.float16 and torch.equal(stored["w"], state["w"].half())
    assert stored["b"].dtype == torch.float32 and torch.equal(stored["b"], state["b"])
    assert stored["n"].dtype == torch.int64 and stored["h"] is state["h"]
    assert info == {"float16_min_numel": zoo.FP16_MIN_NUMEL, "float16_tensors": 1, "tensors": 4}


def test_a_published_entry_is_the_fp16_network_and_the_row_matches_it(isolated):
    # num_feat 16: the residual blocks' 16x16x3x3 weights (2304 elements) are stored as float16
    spec = _spec(isolated).replace("tinyzoo.yaml", "tinyzoo16.yaml")
    text = (isolated / "tinyzoo.yaml").read_text().replace("id: tinyzoo", "id: tinyzoo16")
    (isolated / "tinyzoo16.yaml").write_text(text.replace("num_feat: 4", "num_feat: 16"))
    first = run_pipeline(spec, "tiny", notebook=False)
    entry = _entry(isolated)
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["storage"]["float16_tensors"] > 0 and "train_inputs" not in manifest
    state = read_state_dict(entry / "model.pt")
    assert sum(v.dtype == torch.float16 for v in state.values()) == manifest["storage"]["float16_tensors"]
    inputs = zoo.read_train_inputs(entry.parent, manifest)
    assert inputs and zoo.data_digest(inputs) == manifest["train_data_sha256"]
    shutil.rmtree(isolated / "runs")
    second = run_pipeline(spec, "tiny", notebook=False)
    a, b = _rows(first), _rows(second)
    assert set(b["train_source"]) == {"zoo"}
    pd.testing.assert_series_equal(a["value"].reset_index(drop=True), b["value"].reset_index(drop=True))


def test_compact_rewrites_an_old_style_entry_once(isolated):
    run_pipeline(_spec(isolated), "tiny", notebook=False)
    entry = _entry(isolated)
    zoo_dir = entry.parent
    manifest = json.loads((entry / "manifest.json").read_text())
    inputs = zoo.read_train_inputs(zoo_dir, manifest)
    # make it an entry of the older storage: inline inputs, float32 weights, no storage record
    old = dict(manifest, train_inputs=inputs)
    del old["train_inputs_file"], old["storage"]
    (entry / "manifest.json").write_text(json.dumps(old))
    big = {k: (v.float() if v.is_floating_point() else v) for k, v in read_state_dict(entry / "model.pt").items()}
    big["extra.weight"] = torch.randn(40, 40)  # a large fp32 tensor (the tiny model has none)
    from workbench.checkpoint import save_state_dict_compressed
    save_state_dict_compressed(entry / "model.pt", big)
    assert zoo.compact(zoo_dir) == [entry.name]
    after = json.loads((entry / "manifest.json").read_text())
    assert "train_inputs" not in after and zoo.read_train_inputs(zoo_dir, after) == inputs
    assert after["config_hash"] == manifest["config_hash"]
    state = read_state_dict(entry / "model.pt")
    assert state["extra.weight"].dtype == torch.float16
    assert torch.equal(state["extra.weight"], big["extra.weight"].half())
    assert zoo.compact(zoo_dir) == []  # already compact


def test_compact_keeps_one_copy_of_a_prior_stored_under_two_keys(isolated):
    run_pipeline(_spec(isolated), "tiny", notebook=False)
    entry = _entry(isolated)
    zoo_dir = entry.parent
    manifest = json.loads((entry / "manifest.json").read_text())
    current = (zoo_dir / manifest["shared"]["spynet"]["file"]).parent
    stale = current.with_name("spynet-0000000000000000")  # the same weights under an older cache key
    shutil.copytree(current, stale)
    manifest["shared"]["spynet"]["file"] = f"shared/{stale.name}/spynet.pth"
    (entry / "manifest.json").write_text(json.dumps(manifest))
    assert zoo.compact(zoo_dir) == [entry.name]
    after = json.loads((entry / "manifest.json").read_text())
    assert after["shared"]["spynet"]["file"] == f"shared/{current.name}/spynet.pth" and not stale.exists()
    model = build_model("basicvsr-uni", {"num_feat": 4, "num_block": 1}, seed=0, where="test")
    zoo.load_entry(model, zoo.find(zoo_dir, entry.name, after["config"]), zoo_dir)  # still loads strictly


def _zoo_with_prior_under(isolated, old_key):
    """A tiny zoo whose entry names its prior under ``old_key`` (as after a source change) and an empty
    cache, so the current code's key is missing from both."""
    run_pipeline(_spec(isolated), "tiny", notebook=False)
    entry = _entry(isolated)
    zoo_dir = entry.parent
    manifest = json.loads((entry / "manifest.json").read_text())
    current = (zoo_dir / manifest["shared"]["spynet"]["file"]).parent
    old = current.with_name(f"spynet-{old_key}")
    current.rename(old)
    manifest["shared"]["spynet"]["file"] = f"shared/{old.name}/spynet.pth"
    (entry / "manifest.json").write_text(json.dumps(manifest))
    return zoo_dir, entry, current, old


def test_rekey_files_a_byte_identical_prior_under_the_current_key(isolated):
    zoo_dir, entry, current, old = _zoo_with_prior_under(isolated, "0000000000000000")
    assert not zoo.holds_current_prior(zoo_dir)
    said = zoo.rekey_prior(zoo_dir)  # the cache still holds the current prior: nothing is trained
    assert "byte-identical to spynet-0000000000000000" in said and "1 entries" in said
    assert zoo.holds_current_prior(zoo_dir) and not old.exists()
    after = json.loads((entry / "manifest.json").read_text())
    assert after["shared"]["spynet"]["file"] == f"shared/{current.name}/spynet.pth"
    model = build_model("basicvsr-uni", {"num_feat": 4, "num_block": 1}, seed=0, where="test")
    zoo.load_entry(model, zoo.find(zoo_dir, entry.name, after["config"]), zoo_dir)
    assert "already holds" in zoo.rekey_prior(zoo_dir)


def test_rekey_refuses_a_prior_whose_weights_changed(isolated):
    zoo_dir, entry, current, old = _zoo_with_prior_under(isolated, "1111111111111111")
    (old / "spynet.pth").write_bytes(b"other weights")
    with pytest.raises(CheckpointError, match="differs from every prior"):
        zoo.rekey_prior(zoo_dir)
    assert not current.exists() and old.exists()  # nothing filed


def test_a_run_says_loudly_that_the_zoo_prior_is_under_another_key(isolated, capsys):
    zoo_dir, entry, current, old = _zoo_with_prior_under(isolated, "2222222222222222")
    run_pipeline(_spec(isolated), "tiny", notebook=False)
    assert "no motion prior under the current code's key" in capsys.readouterr().err
