"""Cluster executors: a tiny cell through submitit's local executor (training job, then evaluation job, then
publication), the status table, and the SLURM parameters generated from a spec's ``resources``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.pipeline import executors
from workbench.pipeline.spec import Resources, cell_resources, expand, load_spec

TINY = """
id: {id}
title: tiny executor check
notebook: restoration
profiles:
  tiny:
    kind: pipeline check
    dataset_map: {{embedded-test: set8}}
    reported_tables: [table1]
    resources: {{gpus: 0, time_min: 10, partition: debug}}
    defaults:
      kind: restoration
      train: {{steps: 2, batch_size: 2, patch_size: 16, clip_frames: 3, log_every: 1, checkpoint_every: 1}}
      evaluate: {{dataset: embedded-test, sigmas: [20], max_frames: 2, max_sequences: 1}}
    cells:
      - {{name: noisy-input, method: noisy-input, model: noisy-input, train: null}}
      - {{name: basicvsr, method: basicvsr-uni, model: basicvsr-uni, model_args: {{num_feat: 4, num_block: 1}},
         resources: {{gpus: 4, time_min: 720, account: vision, qos: high, mem_gb: 64}}}}
"""


def _spec(folder: Path, spec_id: str = "tinyexec") -> Path:
    path = folder / f"{spec_id}.yaml"
    path.write_text(TINY.format(id=spec_id))
    return path


def test_resources_merge_and_stay_out_of_the_cell_params(isolated: Path) -> None:
    spec = load_spec(str(_spec(isolated)))
    res = cell_resources(spec, "tiny")
    assert res["noisy-input"] == Resources(gpus=0, time_min=10, partition="debug")
    assert res["basicvsr"] == Resources(gpus=4, time_min=720, partition="debug", account="vision", qos="high",
                                        mem_gb=64)
    assert all(not hasattr(p, "resources") for _, _, p in expand(spec, "tiny"))


def test_unknown_resource_key_is_an_error(isolated: Path) -> None:
    path = _spec(isolated)
    path.write_text(path.read_text().replace("partition: debug", "partiton: debug"))
    with pytest.raises(ConfigError, match="unknown key 'partiton'"):
        cell_resources(load_spec(str(path)), "tiny")


def test_slurm_parameters_from_resources(isolated: Path) -> None:
    res = cell_resources(load_spec(str(_spec(isolated))), "tiny")["basicvsr"]
    params = executors.slurm_parameters(res, job_name="tinyexec-basicvsr-train")
    assert params == {"job_name": "tinyexec-basicvsr-train", "time": 720, "nodes": 1, "ntasks_per_node": 4,
                      "gpus_per_node": 4, "cpus_per_task": 8, "signal_delay_s": executors.SIGNAL_DELAY_S,
                      "partition": "debug", "account": "vision", "qos": "high", "mem": "64GB"}
    text = executors.sbatch_text(res, job_name="tinyexec-basicvsr-train", folder=isolated / "jobs",
                                 dependency="afterok:123")
    for line in ("#SBATCH --gpus-per-node=4", "#SBATCH --ntasks-per-node=4", "#SBATCH --time=720",
                 "#SBATCH --partition=debug", "#SBATCH --account=vision", "#SBATCH --qos=high",
                 "#SBATCH --mem=64GB", "#SBATCH --dependency=afterok:123", "#SBATCH --signal=USR2@120"):
        assert line in text, line
    evaluation = executors.slurm_parameters(res, job_name="e", tasks=1)
    assert evaluation["ntasks_per_node"] == 1 and evaluation["gpus_per_node"] == 1


def test_requeue_resubmits_the_same_training_call() -> None:
    job = executors.TrainJob()
    call = executors.CellCall("s", "p", "c", "restoration", None, None, "cpu")
    delayed = job.checkpoint(call)
    assert delayed.function is job and delayed.args == (call,)


def test_local_executor_runs_one_tiny_cell_then_publishes(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    path = _spec(isolated)
    # two tasks on this CPU: the training job is a 2-rank gloo run, joined from submitit's job environment
    path.write_text(path.read_text().replace("gpus: 4, time_min: 720", "gpus: 2, time_min: 720"))
    spec_id = "tinyexec"
    summary = executors.run_with_executor(str(path), "tiny", "local", notebook=False)
    assert not isinstance(summary, list)
    assert (summary.version_dir / "measured.csv").is_file()
    manifest = json.loads((summary.version_dir / "manifest.json").read_text())
    trained = next(c for c in manifest["cells"] if c["cell"] == "basicvsr")
    assert trained["reused"]  # the evaluation job cached the cell; publishing only collected it
    assert trained["notes"]["train"]["distributed"] == {"world_size": 2, "backend": "gloo", "batchnorm": "none"}
    rows = executors.status(str(path), "tiny")
    by_stage = {(r["cell"], r["stage"]): r for r in rows}
    assert by_stage[("noisy-input", "-")]["state"] == "in-process"
    assert by_stage[("basicvsr", "train")]["state"] == "done"
    assert by_stage[("basicvsr", "eval")]["state"] == "done"
    assert Path(by_stage[("basicvsr", "train")]["log"]).is_file()
    jobs = json.loads((executors.jobs_dir(spec_id, "tiny") / "jobs.json").read_text())
    assert [j["stage"] for j in jobs["basicvsr"]["jobs"]] == ["train", "eval"]


def test_status_reads_failed_and_running_jobs(isolated: Path) -> None:
    import os
    import pickle

    path = _spec(isolated)
    folder = isolated / "jobfolder"
    folder.mkdir()
    with (folder / "111_0_result.pkl").open("wb") as fh:
        pickle.dump(("error", "Traceback ... RuntimeError: boom"), fh)
    record = {"folder": str(folder), "stdout": str(folder / "log.out"), "stderr": "e"}
    jobs = {"basicvsr": {"executor": "local", "key": "0" * 20,
                         "jobs": [{**record, "stage": "train", "job_id": "111"},
                                  {**record, "stage": "eval", "job_id": str(os.getpid())}]}}
    executors._write_jobs("tinyexec", "tiny", jobs)
    rows = {(r["cell"], r["stage"]): r for r in executors.status(str(path), "tiny")}
    assert rows[("basicvsr", "train")]["state"] == "failed"
    assert rows[("basicvsr", "eval")]["state"] == "running" and rows[("basicvsr", "eval")]["job_id"] == str(os.getpid())
    assert rows[("noisy-input", "-")]["state"] == "in-process"
