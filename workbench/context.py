"""The context one unit of work runs in: where it may write, what it read, which device it uses.

A :class:`RunContext` is handed to every cell kind's ``run`` (:mod:`workbench.pipeline.cells`) and to the
evaluation functions they call. It lives at the bottom of the layer order so that evaluation code can
take one without importing the pipeline layer above it.

- ``work_dir``: private folder of the unit (checkpoints, logs, bitstreams), kept across runs so a killed
  run resumes;
- ``artifact_dir``: files that belong in the published results version (figures' raw data, JSON sides);
- ``input_checksums``: ``{name: sha256}`` of every input read, for the manifest;
- ``notes``: free-form provenance added by the unit (the verbatim x265 command, the evaluation rule, the
  training summary), copied into the manifest;
- ``zoo_dir``: the committed model zoo of the profile (``results/zoo/<profile>``, :mod:`workbench.pipeline.zoo`)
  when the profile has one, else ``None``; ``retrain``: train from scratch even where the zoo (or a finished
  training run) has the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunContext:
    spec_id: str
    profile: str
    cell_name: str
    work_dir: Path
    artifact_dir: Path
    device: str = "cpu"
    data_root: Path | None = None
    input_checksums: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    zoo_dir: Path | None = None
    retrain: bool = False
