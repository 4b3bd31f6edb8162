"""Run the cells of several specs ahead, in worker processes, so each spec's own run finds them done.

``workbench reproduce --jobs N`` (``make reproduce`` passes ``JOBS``) calls :func:`warm` before the specs
run one after another: every distinct cell of every spec (distinct by its cache key,
:func:`workbench.pipeline.runner.cell_key`: Table 8's uni rows and Table 1's are one cell where the key
agrees) goes to a pool of ``N`` processes with ``cpu_count // N`` torch threads each, longest first, the
length taken from the newest published version of the spec (``seconds`` in its manifest; 0 when there is
none). Each worker calls :func:`~workbench.pipeline.runner.run_cell`, which writes ``runs/cells/<kind>/<key>``
atomically; the sequential pass that follows reuses those folders and publishes exactly as without
``--jobs``. Small models scale badly over threads on a CPU (one 96×160 frame at 16 channels is too little
work for two), so two one-thread workers do more per second than one two-thread process.

A cell that fails in a worker is not an error here: its folder has no ``done.json``, so the sequential pass
runs it again in the main process and reports the failure there, in one line as usual. Two cells that train
the same model meet the training folder's lock (the second fails and is rerun, by then served by the zoo or
the finished run). The SPyNet flow memo is per process, so flows shared by models in different workers are
computed in each. Retraining (``--retrain``) is never run ahead: its thread counts are the zoo entries'.

Then :func:`publish` runs the specs themselves in the same number of workers: with every cell done, a
spec's run is its publication and its notebook (papermill), independent of the other specs' (the store
lock orders the version numbers); the report follows in the main process.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from workbench.errors import WorkbenchError
from workbench.paths import results_root
from workbench.pipeline import zoo
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
    """One cell to run ahead: where it comes from, what it is, and its expected seconds."""

    spec_id: str
    profile: str
    name: str
    kind_id: str
    params: Any
    inputs: dict[str, str]
    zoo_dir: Path | None
    expected_s: float


def _last_seconds(spec_id: str, profile: str) -> dict[str, float]:
    """``{cell name: seconds}`` from the newest published version of ``spec_id``/``profile`` (empty if none)."""
    folder = results_root() / spec_id / profile
    versions = sorted(p for p in folder.glob("v[0-9]*") if (p / "manifest.json").is_file()) if folder.is_dir() else []
    if not versions:
        return {}
    cells = json.loads((versions[-1] / "manifest.json").read_text()).get("cells", [])
    return {str(c.get("cell")): float(c.get("seconds") or 0.0) for c in cells}


def plan(specs: list[str], profile: str, *, data_root: Path | None, device: str,
         sequences: list[str] | None = None) -> list[Task]:
    """The distinct cells of ``specs``/``profile``, longest expected first."""
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
                tasks[key] = Task(spec.id, profile, name, kind_id, params, inputs, zoo_dir, seconds.get(name, 0.0))
    return sorted(tasks.values(), key=lambda t: -t.expected_s)


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)


def _run(task: Task, data_root: Path | None, device: str) -> str:
    run_cell(task.spec_id, task.profile, task.name, task.kind_id, task.params, data_root=data_root, device=device,
             inputs=task.inputs, zoo_dir=task.zoo_dir)
    return f"{task.spec_id}/{task.name}"


def threads_per_job(jobs: int) -> int:
    """Torch threads for each of ``jobs`` workers: the process's thread count shared out, at least 1."""
    return max(1, torch.get_num_threads() // jobs)


def warm(tasks: list[Task], *, jobs: int, data_root: Path | None, device: str) -> list[str]:
    """Run ``tasks`` in ``jobs`` worker processes; the ``spec/cell`` names that failed there (rerun later)."""
    if jobs < 1:
        raise WorkbenchError(f"--jobs {jobs}: use 1 (no workers) or more")
    failed: list[str] = []
    threads = threads_per_job(jobs)
    log.info(f"running {len(tasks)} cells ahead in {jobs} processes of {threads} thread(s) each")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(_run, t, data_root, device): f"{t.spec_id}/{t.name}" for t in tasks}
        for fut in as_completed(futures):
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001 - rerun in the main process, which reports it
                log.info(f"{futures[fut]}: failed in a worker ({type(exc).__name__}: {exc}); it runs again below")
                failed.append(futures[fut])
    return failed


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


__all__ = ["Task", "plan", "publish", "threads_per_job", "warm"]
