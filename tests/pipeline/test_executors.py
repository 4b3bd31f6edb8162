"""Cluster executors: a tiny cell through submitit's local executor (training job, then evaluation job, then
publication; a second run reuses the cell and publishes v0002 without a job), a training job stopped
mid-training and requeued through its ``checkpoint()`` (it resumes from the checkpoint and ends with the
weights of an uninterrupted run), the status table, and the SLURM parameters generated from a spec's
``resources``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    jobs_path = executors.jobs_dir(spec_id, "tiny") / "jobs.json"
    jobs = json.loads(jobs_path.read_text())
    assert [j["stage"] for j in jobs["basicvsr"]["jobs"]] == ["train", "eval"]
    assert summary.version_dir.name == "v0001"

    # a second run of the same spec: the finished cell is reused, no job is submitted, v0002 is published
    (weights,) = (isolated / "runs" / "train").glob("*/model.pt")  # the one training run, by the training job
    assert trained["notes"]["train"]["run_dir"] == f"<runs>/train/{weights.parent.name}"
    before = (weights.read_bytes(), weights.stat().st_mtime_ns)
    jobs_before = jobs_path.read_text()
    job_files = sorted(executors.jobs_dir(spec_id, "tiny").rglob("*"))

    def no_new_job(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished cell was submitted again")

    monkeypatch.setattr(executors, "submit_cell", no_new_job)
    again = executors.run_with_executor(str(path), "tiny", "local", notebook=False)
    assert not isinstance(again, list)
    assert again.version_dir.name == "v0002" and again.version_dir.parent == summary.version_dir.parent
    assert "basicvsr" in again.cells_reused and "basicvsr" not in again.cells_run
    cells = {c["cell"]: c for c in json.loads((again.version_dir / "manifest.json").read_text())["cells"]}
    assert cells["basicvsr"]["reused"]
    assert (weights.read_bytes(), weights.stat().st_mtime_ns) == before  # the training was not redone
    assert jobs_path.read_text() == jobs_before
    assert sorted(executors.jobs_dir(spec_id, "tiny").rglob("*")) == job_files
    assert (again.version_dir / "measured.csv").read_text() == (summary.version_dir / "measured.csv").read_text()


class Preempted(Exception):
    """Stands for the job's process being stopped (SLURM preemption / time-out) mid-training."""


def _local_job_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """submitit's job environment of a one-task local job, as inside ``submitit.core._submit``."""
    for key, value in {"SUBMITIT_EXECUTOR": "local", "SUBMITIT_LOCAL_JOB_ID": "4242", "SUBMITIT_LOCAL_NTASKS": "1",
                       "SUBMITIT_LOCAL_JOB_NUM_NODES": "1", "SUBMITIT_LOCAL_NODEID": "0",
                       "SUBMITIT_LOCAL_GLOBALID": "0", "SUBMITIT_LOCAL_LOCALID": "0"}.items():
        monkeypatch.setenv(key, value)


def test_training_job_stopped_mid_training_is_requeued_and_resumes(isolated: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import csv

    import torch
    from submitit.helpers import DelayedSubmission

    from workbench.checkpoint import read_state_dict, read_training_state
    from workbench.train import loop

    _local_job_env(monkeypatch)
    path = _spec(isolated)
    path.write_text(path.read_text().replace("steps: 2,", "steps: 4,"))
    call = next(c for c in executors.calls_for(str(path), "tiny", data_root=None, device="cpu", overrides=None)
                if c.name == "basicvsr")
    assert executors.trains(call) and call.params.train.steps == 4

    # reference: the same training job, uninterrupted, in its own runs folder
    monkeypatch.setenv("WORKBENCH_RUNS", str(isolated / "runs-reference"))
    reference = executors.TrainJob()(call)
    assert reference["steps"] == 4 and reference["resumed_from"] == 0
    ref_dir = Path(reference["run_dir"])

    # the job is stopped right after its checkpoint at step 2 is complete (checkpoint.pt and loss.csv)
    monkeypatch.setenv("WORKBENCH_RUNS", str(isolated / "runs"))
    save_state = loop.save_training_state

    def stop_after_step_2(path: Path, **kw: Any) -> None:  # loss.csv is written first, then the checkpoint
        save_state(path, **kw)
        if kw["step"] == 2:
            raise Preempted

    monkeypatch.setattr(loop, "save_training_state", stop_after_step_2)
    job = executors.TrainJob()
    with pytest.raises(Preempted):  # as submitit's signal handler would, mid-loop, before model.pt
        job(call)
    run_dir = isolated / "runs" / "train" / ref_dir.name  # the same training key in the other runs folder
    assert (run_dir / "checkpoint.pt").is_file() and not (run_dir / "model.pt").exists()
    assert read_training_state(run_dir / "checkpoint.pt")["step"] == 2
    monkeypatch.setattr(loop, "save_training_state", save_state)

    # submitit's requeue path: checkpoint() -> DelayedSubmission, dumped to the job folder, loaded, run again
    delayed = job.checkpoint(call)
    delayed.dump(isolated / "requeued.pkl")
    resumed = DelayedSubmission.load(isolated / "requeued.pkl").result()
    assert resumed["run_dir"] == str(run_dir)
    assert resumed["resumed_from"] == 2 and resumed["steps"] == 4 and not resumed["reused_training"]
    with (run_dir / "loss.csv").open(newline="") as fh:
        steps = [row["step"] for row in csv.DictReader(fh)]
    assert steps == ["1", "2", "3", "4"]
    assert (run_dir / "loss.csv").read_text() == (ref_dir / "loss.csv").read_text()
    got, want = read_state_dict(run_dir / "model.pt"), read_state_dict(ref_dir / "model.pt")
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)


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
