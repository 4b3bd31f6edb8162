"""The user's code is part of the cell key and the training key: a changed ``forward`` is never reused."""

import importlib
import os
import subprocess
import sys

import pandas as pd
import pytest
from _plugin_helpers import REPO, write_spec

from workbench.config import from_mapping
from workbench.context import RunContext
from workbench.errors import ConfigError
from workbench.pipeline.restoration import RestorationCell, train_dir
from workbench.pipeline.runner import run_pipeline
from workbench.pipeline.spec import load_recipes, resolve_train
from workbench.plugins import model_code_hash
from workbench.registry import MODELS
from workbench.train.spec import TrainSpec

DRIVER = """
import sys
sys.path.insert(0, {folder!r})
from workbench.registry import MODELS
from {module} import Net
MODELS.add("user-net", Net)          # registered from a Python driver, as the issue reports
from workbench.pipeline.runner import run_pipeline
s = run_pipeline({spec!r}, "smoke", notebook=False)
print("RAN", ",".join(s.cells_run), "REUSED", ",".join(s.cells_reused), "VERSION", s.version_dir)
"""


def _drive(user_module, spec, isolated) -> tuple[str, str]:
    script = DRIVER.format(folder=str(user_module.folder), module=user_module.name, spec=str(spec))
    env = {**os.environ, "PYTHONPATH": str(REPO), "WORKBENCH_RESULTS": str(isolated / "results"),
           "WORKBENCH_RUNS": str(isolated / "runs")}
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout.strip().splitlines()[-1], p.stderr


def _psnr(version_dir: str) -> float:
    df = pd.read_csv(f"{version_dir}/measured.csv")
    row = df[(df["method"] == "user") & (df["level"] == "dataset") & (df["metric"] == "psnr_db")]
    return float(row["value"].iloc[0])


def test_changed_forward_of_driver_registered_model_reruns_the_cell(isolated, user_module):
    """The reported case: a driver registers the model, the user edits ``forward``, the next run reruns."""
    spec = write_spec(isolated, "userspec", ["{name: user, method: user, model: user-net}"])
    first, _ = _drive(user_module, spec, isolated)
    assert first.startswith("RAN user REUSED  VERSION")
    again, err = _drive(user_module, spec, isolated)
    assert "REUSED user" in again and "reusing cell user" in err  # unchanged code: the cell is reused
    user_module.write(gain=0.5)  # the user changes the model's forward
    third, err = _drive(user_module, spec, isolated)
    assert third.startswith("RAN user REUSED  VERSION"), third
    assert "reusing cell user" not in err
    v1, v3 = first.split("VERSION ")[1], third.split("VERSION ")[1]
    assert abs(_psnr(v1) - _psnr(v3)) > 1.0  # the new version carries the new model's numbers


def test_module_factory_id_in_a_spec_is_keyed_by_its_file(isolated, user_module):
    spec = write_spec(isolated, "factoryspec", [f"{{name: user, method: user, model: '{user_module.name}:build'}}"])
    s1 = run_pipeline(str(spec), "smoke", notebook=False)
    s2 = run_pipeline(str(spec), "smoke", notebook=False)
    user_module.write(gain=0.25)
    s3 = run_pipeline(str(spec), "smoke", notebook=False)
    assert (s1.cells_run, s2.cells_reused, s3.cells_run) == (["user"], ["user"], ["user"])


def test_training_key_changes_with_the_plugin_source(user_module, tmp_path):
    model_id = f"{user_module.name}:build"
    train = from_mapping(TrainSpec, resolve_train({"recipe": "smoke"}, load_recipes(), "test"), where="test")
    cell = RestorationCell(method="user", model=model_id, train=train)
    ctx = RunContext(spec_id="s", profile="smoke", cell_name="user", work_dir=tmp_path, artifact_dir=tmp_path,
                     device="cpu", data_root=None)
    before = train_dir(cell, ctx)
    user_module.write(gain=2.0)
    after = train_dir(cell, ctx)
    assert before != after and ":" not in before.name


def test_builtin_models_add_nothing_to_the_keys():
    """Zoo models are covered by the repository's code hash; their cell keys do not move."""
    zoo = [m for m in MODELS.names() if ":" not in m]
    assert "fastdvdnet" in zoo and "ncfl" in zoo
    assert {m: model_code_hash(m) for m in zoo} == {m: "" for m in zoo}


def test_every_module_of_a_plugin_package_is_hashed(tmp_path, monkeypatch):
    pkg = tmp_path / "userpkg_hash" / "userpkg_hash"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .net import build\n")
    (pkg / "net.py").write_text("from .layers import Layer\n\ndef build():\n    return Layer()\n")
    (pkg / "layers.py").write_text("from workbench.models.reference import NoisyInput as Layer\n")
    monkeypatch.syspath_prepend(str(pkg.parent))
    try:
        h1 = model_code_hash("userpkg_hash.net:build")
        (pkg / "layers.py").write_text("# changed\nfrom workbench.models.reference import NoisyInput as Layer\n")
        assert model_code_hash("userpkg_hash.net:build") != h1
    finally:
        for name in [m for m in sys.modules if m.startswith("userpkg_hash")]:
            sys.modules.pop(name)


def test_edited_in_process_a_driver_registered_model_is_refused(user_module):
    """A model registered by hand cannot be re-imported: keying it after an edit would mix code versions."""
    model_id = f"byhand-{user_module.name}"
    MODELS.add(model_id, importlib.import_module(user_module.name).Net)
    assert model_code_hash(model_id)
    user_module.write(gain=3.0)
    with pytest.raises(ConfigError, match="restart the process"):
        model_code_hash(model_id)
