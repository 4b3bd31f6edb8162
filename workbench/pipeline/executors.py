"""Cluster executors: a pipeline's training cells as SLURM jobs through submitit (``--executor slurm``), or the
same path on this machine through submitit's local executor (``--executor local``). The default,
``inprocess``, is :func:`workbench.pipeline.runner.run_pipeline` alone.

For every unfinished cell that trains, two jobs:

1. **train** — ``resources.gpus`` tasks on one node (one per GPU; at least one task on a CPU job). Each task
   exports torchrun's variables from submitit's job environment (:func:`export_rank_env`) and joins the
   data-parallel training of :mod:`workbench.train.distributed`. It is a ``submitit.helpers.Checkpointable``:
   on preemption or time-out SLURM requeues it and it resumes from the run's last ``checkpoint.pt``.
2. **eval** — one task, after the training job (SLURM ``--dependency=afterok``; the local executor waits
   for the training job): the whole cell in-process (:func:`~workbench.pipeline.runner.run_cell`), which finds
   the trained weights, evaluates and writes the cell's ``done.json``.

Cells that do not train (the noisy-input row, complexity) are cheap and run in-process when the version is
published. ``--executor local`` waits for its jobs and publishes; ``--executor slurm`` submits and returns;
once ``workbench status`` shows every cell done, the same command (or a plain ``workbench run``) publishes
from the finished cells. Job ids and log paths are kept in ``runs/jobs/<spec>/<profile>.json``.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit
from submitit.slurm.slurm import _make_sbatch_string

from workbench import atomic
from workbench.context import RunContext
from workbench.errors import ConfigError
from workbench.locks import pid_alive
from workbench.paths import runs_root
from workbench.pipeline.kinds import CELL_KINDS
from workbench.pipeline.paired import PairedCell, as_restoration
from workbench.pipeline.restoration import RestorationCell, train_only
from workbench.pipeline.runner import RunSummary, cell_key, run_cell, run_pipeline
from workbench.pipeline.spec import Resources, cell_resources, expand, load_spec
from workbench.train.distributed import from_env, shutdown

EXECUTORS = ("inprocess", "local", "slurm")
#: seconds before the time limit at which SLURM signals the job so it requeues itself
SIGNAL_DELAY_S = 120
#: how many time-outs a training job may requeue after (preemptions requeue without limit)
MAX_TIMEOUT_REQUEUES = 20


@dataclass
class CellCall:
    """Everything a job needs to run one cell (pickled into the job folder)."""

    spec_id: str
    profile: str
    name: str
    kind_id: str
    params: Any
    data_root: Path | None
    device: str


def jobs_dir(spec_id: str, profile: str) -> Path:
    return runs_root() / "jobs" / spec_id / profile


def cell_dir(kind_id: str, key: str) -> Path:
    """The runner's cache folder of a cell (``runs/cells/<kind>/<key[:20]>``, see the runner)."""
    return runs_root() / "cells" / kind_id / key[:20]


def _probe(call: CellCall) -> RunContext:
    return RunContext(spec_id=call.spec_id, profile=call.profile, cell_name=call.name, work_dir=Path("."),
                      artifact_dir=Path("."), device=call.device, data_root=call.data_root)


def _inputs(call: CellCall) -> dict[str, str]:
    kind = CELL_KINDS.get(call.kind_id)
    return kind.inputs(call.params, _probe(call)) if kind.inputs else {}


def _key(call: CellCall) -> str:
    return cell_key(call.kind_id, call.params, _inputs(call))


def trains(call: CellCall) -> bool:
    return isinstance(call.params, RestorationCell | PairedCell) and call.params.train is not None \
        and call.params.model != "noisy-input"


def export_rank_env() -> None:
    """torchrun's variables from submitit's job environment (SLURM or local), so that
    :func:`workbench.train.distributed.from_env` sees a data-parallel run of ``num_tasks`` ranks."""
    env = submitit.JobEnvironment()
    if env.num_tasks <= 1:
        return
    os.environ.update({"RANK": str(env.global_rank), "LOCAL_RANK": str(env.local_rank),
                       "WORLD_SIZE": str(env.num_tasks), "MASTER_ADDR": env.hostnames[0],
                       "MASTER_PORT": str(20000 + int(env.job_id.split("_")[0]) % 20000)})


class TrainJob(submitit.helpers.Checkpointable):
    """The training half of a cell on every task of the job; requeued (same arguments) on preemption or
    time-out, it resumes from ``checkpoint.pt`` since training always resumes (``resume=True``)."""

    def __call__(self, call: CellCall) -> dict[str, Any]:
        export_rank_env()
        parallel = from_env(call.device)
        ctx = _probe(call)
        ctx.input_checksums = _inputs(call)
        try:
            params = as_restoration(call.params) if isinstance(call.params, PairedCell) else call.params
            return train_only(params, ctx, parallel)
        finally:
            shutdown(parallel)


def eval_job(call: CellCall) -> str:
    """The whole cell in-process after its training: reuses the trained weights, evaluates, caches rows."""
    _, meta, _ = run_cell(call.spec_id, call.profile, call.name, call.kind_id, call.params,
                          data_root=call.data_root, device=call.device)
    return str(meta["artifact_dir"])


def slurm_parameters(res: Resources, *, job_name: str, tasks: int | None = None) -> dict[str, Any]:
    """``SlurmExecutor.update_parameters`` keywords for one job from the spec's ``resources``."""
    ntasks = tasks if tasks is not None else max(1, res.gpus)
    params: dict[str, Any] = {"job_name": job_name, "time": res.time_min, "nodes": 1, "ntasks_per_node": ntasks,
                              "cpus_per_task": res.cpus_per_task, "signal_delay_s": SIGNAL_DELAY_S}
    if res.gpus:
        params["gpus_per_node"] = res.gpus if tasks is None else min(res.gpus, tasks)
    for key in ("partition", "account", "qos"):
        if getattr(res, key):
            params[key] = getattr(res, key)
    if res.mem_gb:
        params["mem"] = f"{res.mem_gb}GB"
    return params


def sbatch_text(res: Resources, *, job_name: str, folder: Path, dependency: str | None = None) -> str:
    """The sbatch script submitit would write for this job (for checks and ``--dry-run`` style previews)."""
    params = slurm_parameters(res, job_name=job_name)
    if dependency:
        params["dependency"] = dependency
    return _make_sbatch_string(command="python -u -m submitit.core._submit <folder>", folder=folder, **params)


def _executor(kind: str, folder: Path, res: Resources, *, job_name: str, tasks: int | None = None) -> Any:
    if kind == "slurm":
        ex: Any = submitit.SlurmExecutor(folder=folder, max_num_timeout=MAX_TIMEOUT_REQUEUES)
        ex.update_parameters(**slurm_parameters(res, job_name=job_name, tasks=tasks))
        return ex
    ex = submitit.LocalExecutor(folder=folder)
    ex.update_parameters(timeout_min=res.time_min, tasks_per_node=tasks or max(1, res.gpus),
                         gpus_per_node=res.gpus if tasks is None else 0, signal_delay_s=SIGNAL_DELAY_S)
    return ex


def _record(job: Any, stage: str) -> dict[str, str]:
    return {"stage": stage, "job_id": str(job.job_id), "stdout": str(job.paths.stdout),
            "stderr": str(job.paths.stderr), "folder": str(job.paths.folder)}


def _read_jobs(spec_id: str, profile: str) -> dict[str, Any]:
    path = jobs_dir(spec_id, profile) / "jobs.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _write_jobs(spec_id: str, profile: str, jobs: dict[str, Any]) -> None:
    atomic.write_text(jobs_dir(spec_id, profile) / "jobs.json", json.dumps(jobs, indent=2))


def submit_cell(call: CellCall, res: Resources, kind: str) -> tuple[Any, Any]:
    """Submit the training job and the evaluation job of one cell; returns both submitit jobs."""
    folder = jobs_dir(call.spec_id, call.profile) / call.name
    trainer = _executor(kind, folder, res, job_name=f"{call.spec_id}-{call.name}-train")
    train_job = trainer.submit(TrainJob(), call)
    evaluator = _executor(kind, folder, res, job_name=f"{call.spec_id}-{call.name}-eval", tasks=1)
    if kind == "slurm":
        evaluator.update_parameters(dependency=f"afterok:{train_job.job_id}")
    else:  # the local executor has no dependencies: wait for the training job
        train_job.results()
    return train_job, evaluator.submit(eval_job, call)


def calls_for(spec_id: str, profile: str, *, data_root: Path | None, device: str,
              overrides: dict[str, Any] | None) -> list[CellCall]:
    spec = load_spec(spec_id)
    return [CellCall(spec.id, profile, name, kind_id, params, data_root, device)
            for name, kind_id, params in expand(spec, profile, overrides)]


def run_with_executor(spec_id: str, profile: str, executor: str, *, data_root: Path | None = None,
                      device: str = "cpu", overrides: dict[str, Any] | None = None,
                      notebook: bool = True) -> RunSummary | list[dict[str, str]]:
    """Submit the unfinished training cells (not those already queued or running); ``local`` waits and
    publishes (a :class:`RunSummary`), ``slurm`` returns the submitted jobs' records, or publishes when
    every training cell is done."""
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor {executor!r}: known: {', '.join(EXECUTORS)}")
    if executor == "inprocess":
        return run_pipeline(spec_id, profile, data_root=data_root, device=device, overrides=overrides,
                            notebook=notebook)
    spec = load_spec(spec_id)
    resources = cell_resources(spec, profile)
    jobs = _read_jobs(spec.id, profile)
    submitted, pending = [], []
    for call in calls_for(spec_id, profile, data_root=data_root, device=device, overrides=overrides):
        if not trains(call):
            continue
        key = _key(call)  # hashes the cell's inputs (dataset checksums): once per cell
        if (cell_dir(call.kind_id, key) / "done.json").exists():
            continue
        if any(s in ("queued", "running") for s in _states(jobs.get(call.name, {}), executor)):
            pending.append(call.name)
            continue
        train_job, eval_j = submit_cell(call, resources[call.name], executor)
        jobs[call.name] = {"executor": executor, "key": key[:20],
                           "jobs": [_record(train_job, "train"), _record(eval_j, "eval")]}
        _write_jobs(spec.id, profile, jobs)
        submitted.append(eval_j)
        pending.append(call.name)
    if executor == "local":
        for job in submitted:
            job.results()  # re-raises the job's error with its traceback
        pending = []
    if pending:
        return [r for name in pending for r in jobs[name]["jobs"]]
    return run_pipeline(spec_id, profile, data_root=data_root, device=device, overrides=overrides,
                        notebook=notebook)


def _job_state(record: dict[str, str], executor: str) -> str:
    """queued, running, done or failed, from submitit's result file, else the scheduler (or the pid)."""
    result = Path(record["folder"]) / f"{record['job_id']}_0_result.pkl"
    if result.exists():
        with result.open("rb") as fh:
            outcome = pickle.load(fh)  # submitit's own result file: ("success", value) or ("error", text)
        return "done" if outcome[0] == "success" else "failed"
    if executor == "local":
        return "running" if pid_alive(int(record["job_id"])) else "failed"
    state = submitit.SlurmJob(folder=record["folder"], job_id=record["job_id"]).state
    if state in ("PENDING", "REQUEUED", "CONFIGURING"):
        return "queued"
    if state in ("RUNNING", "COMPLETING", "SUSPENDED"):
        return "running"
    return "failed" if state not in ("UNKNOWN", "COMPLETED") else state.lower()


def _states(entry: dict[str, Any], executor: str) -> list[str]:
    return [_job_state(r, entry.get("executor", executor)) for r in entry.get("jobs", [])]


def status(spec_id: str, profile: str, *, data_root: Path | None = None, device: str = "cpu",
           overrides: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """One row per cell and job: cell, stage, state (queued / running / done / failed; ``not submitted`` for a
    training cell without jobs, ``in-process`` for a cell run at publication), job id and log path. A
    submitted cell whose ``done.json`` exists is done whatever its jobs say. Cheap: it reads the keys
    recorded at submission and hashes no dataset (the jobs of the last submission are shown, even if the
    spec changed since)."""
    jobs = _read_jobs(load_spec(spec_id).id, profile)
    rows: list[dict[str, str]] = []
    for call in calls_for(spec_id, profile, data_root=data_root, device=device, overrides=overrides):
        entry = jobs.get(call.name)
        if entry is None:
            state = "not submitted" if trains(call) else "in-process"
            rows.append({"cell": call.name, "stage": "-", "state": state, "job_id": "-", "log": "-"})
            continue
        done = (cell_dir(call.kind_id, entry["key"]) / "done.json").exists()
        for record, state in zip(entry["jobs"], _states(entry, entry["executor"]), strict=True):
            rows.append({"cell": call.name, "stage": record["stage"], "state": "done" if done else state,
                         "job_id": record["job_id"], "log": record["stdout"]})
    return rows
