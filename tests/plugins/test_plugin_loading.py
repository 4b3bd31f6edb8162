"""How a user's model reaches the registry: entry points, ``module:factory`` ids, ``--plugin``; the example model."""

import sys

import numpy as np
import pytest
import torch

from workbench.errors import ConfigError
from workbench.evaluate.infer import restore_stream
from workbench.plugins import ENTRY_POINT_GROUP, entry_point_ids, load_plugin, resolve
from workbench.registry import MODELS
from workbench.zoo import build_model


def test_entry_point_of_an_installed_package_is_a_model_id(tmp_path, monkeypatch, user_module):
    dist = tmp_path / "site" / "user_models-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: user-models\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nep-user-net = {user_module.name}:build\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert "ep-user-net" in entry_point_ids()
    model = build_model("ep-user-net", {"width": 2}, seed=0, where="test")
    assert type(model).__name__ == "Net" and model.scale.shape == (2,)
    assert "ep-user-net" in MODELS


def test_module_factory_errors_name_the_fix(user_module):
    with pytest.raises(ConfigError, match="cannot import plugin module 'no_such_pkg.mod'.*PYTHONPATH"):
        resolve("no_such_pkg.mod:build", where="spec.yaml: cells[0]")
    with pytest.raises(ConfigError, match="has no 'nope'"):
        resolve(f"{user_module.name}:nope")
    with pytest.raises(ConfigError, match="unknown model 'not-registered'; known: .*fastdvdnet"):
        resolve("not-registered")


def test_plugin_module_registers_its_own_ids(tmp_path, monkeypatch):
    (tmp_path / "selfreg_plugin.py").write_text(
        "from workbench.models.reference import NoisyInput\nfrom workbench.registry import MODELS\n"
        "MODELS.add('selfreg-noisy', NoisyInput)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert load_plugin("selfreg_plugin") == ["selfreg-noisy"]
    finally:
        sys.modules.pop("selfreg_plugin", None)


def test_cli_plugin_option_loads_user_code_and_reports_a_bad_one(tmp_path, monkeypatch, cli, isolated):
    (tmp_path / "cli_plugin.py").write_text(
        "from workbench.models.reference import NoisyInput\nfrom workbench.registry import MODELS\n"
        "class Floor(NoisyInput):\n    pass\nMODELS.add('cli-floor', Floor)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from _plugin_helpers import write_spec

    spec = write_spec(isolated, "clispec", ["{name: floor, method: floor, model: cli-floor}"])
    try:
        r = cli("run", str(spec), "--plugin", "cli_plugin", "--no-notebook")
    finally:
        sys.modules.pop("cli_plugin", None)
    assert r.returncode == 0, r.stderr
    assert "clispec/smoke" in r.stdout
    with pytest.raises(SystemExit) as exc:
        cli("run", str(spec), "--plugin", "no_such_plugin_module", "--no-notebook")
    assert exc.value.code == 2


def test_example_model_satisfies_the_interface(monkeypatch):
    from _plugin_helpers import EXAMPLE

    monkeypatch.syspath_prepend(str(EXAMPLE))
    model = build_model("tiny_denoiser:build", {"width": 4}, seed=0, where="test")
    assert (model.temporal_mode, model.window, model.uses_noise_map, model.size_multiple) == ("window", 3, True, 4)
    clip = torch.rand(2, 3, 3, 12, 16)
    out = model(clip, torch.full((2, 1, 12, 16), 20 / 255))
    assert out.shape == (2, 3, 12, 16)
    out.mean().backward()  # trainable by the workbench's loop: gradients reach every parameter
    assert all(p.grad is not None for p in model.parameters())
    frames = np.random.default_rng(0).random((4, 10, 14, 3)).astype(np.float32)  # not a multiple of 4
    restored = dict(restore_stream(model, lambda i: frames[i], 4, noise_sigma=20.0))
    assert sorted(restored) == [0, 1, 2, 3] and restored[0].shape == (10, 14, 3)
