"""Run the cells of several specs ahead, in worker processes, so each spec's own run finds them done.

``workbench reproduce --jobs N`` (``make reproduce`` passes ``JOBS``) calls :func:`warm` before the specs
run one after another: every distinct cell of every spec (distinct by its cache key,
:func:`workbench.pipeline.runner.cell_key`: Table 8's uni rows and Table 1's are one cell where the key
agrees) goes to a pool of ``N`` processes with ``cpu_count // N`` torch threads each, longest first, the
length taken from the newest published version of the spec (``seconds`` in its manifest, or its
evaluations' ``per_sigma_seconds`` where larger; 0 when there is none). A restoration cell that evaluates
several σ is split (:func:`split`): each σ's evaluation runs as a task of its own into the evaluation cache
(``runs/eval``), and the cell itself runs after all of them, finding every evaluation done; so Table 1's
five-σ cells share out over the workers instead of one of them deciding when the last worker ends.
Each worker calls :func:`~workbench.pipeline.runner.run_cell`, which writes ``runs/cells/<kind>/<key>``
atomically; the sequential pass that follows reuses those folders and publishes exactly as without
``--jobs``. Small models scale badly over threads on a CPU (one 96×160 frame at 16 channels is too little
work for two), so two one-thread workers do more per second than one two-thread process.

A cell that fails in a worker is not an error here: its folder has no ``done.json``, so the sequential pass runs it
again in the main process and reports the failure there, in one line as usual. Two cells that train the same model
meet the training folder's lock (the second fails and is rerun, by then served by the zoo or the finished run). The
workers share their SPyNet flows through a folder of the run's own, ``runs/flows/run-<pid>-<random>``
(:data:`~workbench.models.spynet.FLOW_STORE_ENV`; removed when the run ends, unless the variable names one): a flow
one worker computed on the same frames with the same weights and layout is read, not computed, by the other (the σ
parts of Table 1 would otherwise compute each flow once per worker). Retraining (``--retrain``) is never run ahead:
its thread counts are the zoo entries'.

Then :func:`publish` runs the specs themselves in the same number of workers: with every cell done, a
spec's run is its publication and its notebook (papermill), independent of the other specs' (the store
lock orders the version numbers); the report follows in the main process.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from workbench.context import RunContext
from workbench.errors import WorkbenchError
from workbench.locks import pid_alive
from workbench.models.spynet import FLOW_STORE_ENV
from workbench.paths import results_root, runs_root
from workbench.pipeline import zoo
from workbench.pipeline.restoration import run_restoration
from workbench.pipeline.runner import (
    RunSummary,
    cell_inputs,
    cell_key,
    run_cell,
    run_pipeline,
    takes_sequences,
    with_sequences,
)
from workbench.pipeline.spec import expand, load_spec

log = logging.getLogger("workbench")


@dataclass(frozen=True)
class Task:
    """One cell to run ahead: where it comes from, what it is, and its expected seconds. With ``sigma``
    set, only that σ of a restoration cell's evaluation is computed (into the evaluation cache), not the
    cell: the cell itself runs after every such part (:func:`warm`)."""

    spec_id: str
    profile: str
    name: str
    kind_id: str
    params: Any
    inputs: dict[str, str]
    zoo_dir: Path | None
    expected_s: float
    sigma: float | None = None
    #: the evaluation's seconds per σ in the newest published version (``(str(σ), s)``), for :func:`split`
    sigma_seconds: tuple[tuple[str, float], ...] = ()

    @property
    def label(self) -> str:
        part = f" (σ = {self.sigma:g})" if self.sigma is not None else ""
        return f"{self.spec_id}/{self.name}{part}"


@dataclass(frozen=True)
class _Timing:
    """A cell's seconds in the newest published version: its own, and its evaluation's per σ (computed or
    reused, the seconds the evaluation took when it was computed)."""

    seconds: float
    per_sigma: dict[str, float]


def _last_seconds(spec_id: str, profile: str) -> dict[str, _Timing]:
    """``{cell name: timing}`` from the newest published version of ``spec_id``/``profile`` (empty if none)."""
    folder = results_root() / spec_id / profile
    versions = sorted(p for p in folder.glob("v[0-9]*") if (p / "manifest.json").is_file()) if folder.is_dir() else []
    if not versions:
        return {}
    cells = json.loads((versions[-1] / "manifest.json").read_text()).get("cells", [])
    out = {}
    for c in cells:
        notes = c.get("notes") if isinstance(c.get("notes"), dict) else {}
        per = (notes.get("evaluation") or {}).get("per_sigma_seconds") or {}
        out[str(c.get("cell"))] = _Timing(float(c.get("seconds") or 0.0),
                                          {str(k): float(v) for k, v in per.items() if v is not None})
    return out


def _sigma_parts(task: Task) -> list[Task]:
    """One task per σ of a restoration cell that evaluates several (empty otherwise), each expected to take
    its σ's recorded evaluation seconds (the cell's expected seconds shared out where none were recorded)."""
    if task.kind_id != "restoration":
        return []
    sigmas = list(task.params.evaluate.sigmas)
    if len(sigmas) < 2:
        return []
    per, even = dict(task.sigma_seconds), task.expected_s / len(sigmas)
    return [dataclasses.replace(task, sigma=float(s), expected_s=per.get(str(float(s)), even)) for s in sigmas]


def plan(specs: list[str], profile: str, *, data_root: Path | None, device: str,
         sequences: list[str] | None = None) -> list[Task]:
    """The distinct cells of ``specs``/``profile``, longest expected first (expected: the seconds of the
    cell, or of its evaluations, in the newest published version)."""
    tasks: dict[tuple[str, str], Task] = {}
    for spec_id in specs:
        spec = load_spec(spec_id)
        prof = spec.profiles[profile]
        zoo_dir = zoo.zoo_root(profile) if prof.zoo else None
        if zoo_dir is not None:
            zoo.install_prior(zoo_dir)
        subset = sequences if sequences and takes_sequences(spec_id, profile) else None
        seconds = _last_seconds(spec.id, profile)
        for name, kind_id, params in expand(spec, profile, with_sequences(None, subset)):
            inputs = cell_inputs(spec.id, profile, name, kind_id, params, data_root=data_root, device=device)
            key = (kind_id, cell_key(kind_id, params, inputs))
            if key not in tasks:
                timing = seconds.get(name)
                expected = max([timing.seconds, sum(timing.per_sigma.values())]) if timing is not None else 0.0
                per = tuple(sorted(timing.per_sigma.items())) if timing is not None else ()
                tasks[key] = Task(spec.id, profile, name, kind_id, params, inputs, zoo_dir, expected, None, per)
    return sorted(tasks.values(), key=lambda t: -t.expected_s)


def split(tasks: list[Task]) -> tuple[list[Task], list[Task]]:
    """``(first, then)``: every restoration cell that evaluates several σ becomes one part per σ (run first,
    longest expected first, with the other cells) and the cell itself (run then, its evaluations all cached).
    Splitting keeps one long cell (Table 1's EDVR: 5 σ, ~790 s on one thread) from deciding when the last
    worker finishes."""
    first: list[Task] = []
    then: list[Task] = []
    for t in tasks:
        parts = _sigma_parts(t)
        if parts:
            first.extend(parts)
            then.append(dataclasses.replace(t, expected_s=0.0))
        else:
            first.append(t)
    return sorted(first, key=lambda t: -t.expected_s), then


def _init_worker(threads: int, flow_store: str | None = None) -> None:
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if flow_store is not None:  # the workers share their SPyNet flows (workbench.models.spynet)
        os.environ[FLOW_STORE_ENV] = flow_store


def _run(task: Task, data_root: Path | None, device: str) -> str:
    if task.sigma is not None:
        _evaluate_sigma(task, data_root, device)
    else:
        run_cell(task.spec_id, task.profile, task.name, task.kind_id, task.params, data_root=data_root,
                 device=device, inputs=task.inputs, zoo_dir=task.zoo_dir)
    return task.label


def _evaluate_sigma(task: Task, data_root: Path | None, device: str) -> None:
    """The evaluation of ``task.sigma`` alone, into the evaluation cache (``runs/eval``), in a scratch
    folder: the cell's own run then reuses it. The model is the cell's (from the zoo, or trained here)."""
    p = task.params
    one = dataclasses.replace(p, evaluate=dataclasses.replace(p.evaluate, sigmas=[task.sigma]))
    scratch = runs_root() / "cells" / "sigma-parts"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        ctx = RunContext(spec_id=task.spec_id, profile=task.profile, cell_name=task.name, work_dir=Path(tmp) / "work",
                         artifact_dir=Path(tmp) / "artifacts", device=device, data_root=data_root,
                         input_checksums=dict(task.inputs), zoo_dir=task.zoo_dir)
        ctx.work_dir.mkdir()
        ctx.artifact_dir.mkdir()
        run_restoration(one, ctx)


def threads_per_job(jobs: int) -> int:
    """Torch threads for each of ``jobs`` workers: the process's thread count shared out, at least 1."""
    return max(1, torch.get_num_threads() // jobs)


#: the folder under ``runs/`` that holds each running reproduce's shared SPyNet flows (:func:`_run_flow_store`)
FLOW_RUNS = "flows"


def warm(tasks: list[Task], *, jobs: int, data_root: Path | None, device: str) -> list[str]:
    """Run ``tasks`` in ``jobs`` worker processes; the ``spec/cell`` names that failed there (rerun later)."""
    if jobs < 1:
        raise WorkbenchError(f"--jobs {jobs}: use 1 (no workers) or more")
    failed: list[str] = []
    threads = threads_per_job(jobs)
    first, then = split(tasks)
    log.info(f"running {len(tasks)} cells ahead in {jobs} processes of {threads} thread(s) each "
             f"({len(then)} of them evaluated one σ at a time first)")
    given = os.environ.get(FLOW_STORE_ENV)
    flows = given or _run_flow_store()
    try:
        _warm_batches(first, then, jobs=jobs, threads=threads, flows=flows, data_root=data_root, device=device,
                      failed=failed)
    finally:
        if not given:  # this run's flows served its workers only
            shutil.rmtree(flows, ignore_errors=True)
    return failed



def _run_flow_store() -> str:
    """A fresh folder ``runs/flows/run-<pid>-<random>`` for this run's shared SPyNet flows (removed when the
    run ends); folders left by runs whose process is gone (killed) are removed first. A mini reproduce
    stores about 2000 flows (231 MB) there."""
    root = runs_root() / FLOW_RUNS
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("run-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=root)


def _warm_batches(first: list[Task], then: list[Task], *, jobs: int, threads: int, flows: str,
                  data_root: Path | None, device: str, failed: list[str]) -> None:
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(threads, flows)) as pool:
        for batch in (first, then):
            futures = {pool.submit(_run, t, data_root, device): t for t in batch}
            for fut in as_completed(futures):
                t = futures[fut]
                try:
                    fut.result()
                except Exception as exc:  # noqa: BLE001 - rerun in the main process, which reports it
                    again = "its cell evaluates it" if t.sigma is not None else "it runs again below"
                    log.info(f"{t.label}: failed in a worker ({type(exc).__name__}: {exc}); {again}")
                    if t.sigma is None:
                        failed.append(t.label)


def _publish(spec_id: str, profile: str, data_root: Path | None, device: str,
             sequences: list[str] | None) -> RunSummary:
    return run_pipeline(spec_id, profile, data_root=data_root, device=device,
                        sequences=sequences if sequences and takes_sequences(spec_id, profile) else None)


def publish(specs: list[str], profile: str, *, jobs: int, data_root: Path | None, device: str,
            sequences: list[str] | None = None) -> dict[str, RunSummary]:
    """Run and publish ``specs`` in ``jobs`` worker processes, after :func:`warm` (every cell reused, so a
    spec's run is its publication and notebook); ``{spec: summary}`` of those that succeeded. The store
    lock orders the publications; a spec that fails here is left out, for the caller to run again where
    the failure is reported."""
    done: dict[str, RunSummary] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(threads_per_job(jobs),)) as pool:
        futures = {pool.submit(_publish, s, profile, data_root, device, sequences): s for s in specs}
        for fut in as_completed(futures):
            try:
                done[futures[fut]] = fut.result()
            except Exception as exc:  # noqa: BLE001 - run again in the main process, which reports it
                log.info(f"{futures[fut]}: failed in a worker ({type(exc).__name__}: {exc}); it runs again below")
    return done


__all__ = ["Task", "plan", "publish", "split", "threads_per_job", "warm"]
