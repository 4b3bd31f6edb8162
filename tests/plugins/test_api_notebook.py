"""``workbench.api`` and its example notebook (executed with papermill on tiny inputs)."""

import os
import time

import pandas as pd
import papermill
from _plugin_helpers import REPO, write_spec

from workbench import api
from workbench.models.reference import NoisyInput
from workbench.pipeline.runner import run_pipeline


def test_api_example_notebook_runs(isolated, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    t0 = time.time()
    papermill.execute_notebook(str(REPO / "notebooks" / "api_example.ipynb"), str(tmp_path / "out.ipynb"),
                               parameters={"max_frames": 2}, cwd=str(tmp_path), progress_bar=False)
    assert time.time() - t0 < 60
    index = api.list_versions("table1")
    assert list(index["version"]) == ["v0001", "v0002"]
    second = api.read_results("table1")  # the latest version: both widths, one from each version
    assert set(second["method"]) == {"tiny-w4", "tiny-w8"}
    assert set(second["row_source"]) == {"table1/smoke/v0001", "this version (workbench eval)"}


def test_compare_versions_lines_up_rows_of_two_versions(isolated, user_module):
    spec = write_spec(isolated, "cmpspec", [f"{{name: user, method: user, model: '{user_module.name}:build'}}",
                                            "{name: floor, method: noisy-input, model: noisy-input}"])
    a = run_pipeline(str(spec), "smoke", notebook=False).version_dir
    user_module.write(gain=0.5)
    b = run_pipeline(str(spec), "smoke", notebook=False).version_dir
    diff = api.compare_versions(a, b)
    floor = diff[(diff["method"] == "noisy-input") & (diff["metric"] == "psnr_db")]
    user = diff[(diff["method"] == "user") & (diff["metric"] == "psnr_db")]
    assert float(floor["difference"].iloc[0]) == 0.0
    assert float(user["difference"].iloc[0]) < -3.0  # GAIN 0.5 halves the output: PSNR far lower
    measured_b = pd.read_csv(b / "measured.csv")
    assert float(user["value_b"].iloc[0]) == float(
        measured_b[(measured_b["method"] == "user") & (measured_b["level"] == "dataset")
                   & (measured_b["metric"] == "psnr_db")]["value"].iloc[0])


def test_evaluate_takes_an_id_or_a_model_instance():
    small = {"sigmas": [30], "max_frames": 2, "max_sequences": 1}
    by_id = api.evaluate("noisy-input", "embedded-test", **small)
    by_instance = api.evaluate(NoisyInput(), "embedded-test", **small)
    assert list(by_id["value"]) == list(by_instance["value"])
    assert set(by_id["level"]) == {"sequence", "dataset"} and set(by_id["setting"]) == {"sigma=30"}
    assert (by_id["protocol_frames_per_sequence"] == 2).all()  # the changed protocol is on every row
