"""`reproduce --jobs`: a restoration cell that evaluates several σ is run ahead one σ at a time (each into
the evaluation cache), and the cell itself after, finding every evaluation done; the plan's expected
seconds come from the evaluations' recorded seconds."""

from __future__ import annotations

import json

from workbench.paths import runs_root

SPEC = """
id: {id}
title: one cell at two noise levels
notebook: restoration
profiles:
  tiny:
    kind: mini evidence
    dataset_map: {{embedded-test: set8}}
    reported_tables: [table1]
    defaults:
      kind: restoration
      train: null
      evaluate: {{dataset: embedded-test, sigmas: [10, 50], max_frames: 5, max_sequences: 1}}
    cells:
      - {{name: fdv, method: fastdvdnet, model: fastdvdnet, model_args: {{base_channels: 4}}}}
      - {{name: one, method: noisy-input, model: noisy-input, evaluate: {{sigmas: [50]}}}}
"""


def _spec(tmp, spec_id: str = "split") -> str:
    path = tmp / f"{spec_id}.yaml"
    path.write_text(SPEC.format(id=spec_id))
    return str(path)


def _done(name: str) -> dict:
    found = [json.loads(p.read_text()) for p in (runs_root() / "cells").glob("*/*/done.json")]
    return next(d for d in found if d["cell"] == name)


def test_split_makes_one_part_per_sigma_and_keeps_single_sigma_cells_whole(isolated) -> None:  # noqa: ANN001
    from workbench.pipeline import prefetch

    tasks = prefetch.plan([_spec(isolated)], "tiny", data_root=None, device="cpu")
    first, then = prefetch.split(tasks)
    assert sorted((t.name, t.sigma) for t in first) == [("fdv", 10.0), ("fdv", 50.0), ("one", None)]
    assert [(t.name, t.sigma) for t in then] == [("fdv", None)]


def test_the_parts_fill_the_evaluation_cache_so_the_cell_reuses_every_sigma(isolated) -> None:  # noqa: ANN001
    from workbench.pipeline import prefetch

    tasks = prefetch.plan([_spec(isolated)], "tiny", data_root=None, device="cpu")
    assert prefetch.warm(tasks, jobs=2, data_root=None, device="cpu") == []
    notes = _done("fdv")["notes"]["evaluation"]
    assert notes["per_sigma_reused"] == {"10.0": True, "50.0": True}  # computed by the parts, not the cell
    seconds = notes["per_sigma_seconds"]
    assert set(seconds) == {"10.0", "50.0"} and all(isinstance(s, float) and s > 0 for s in seconds.values())
    assert not any((runs_root() / "cells" / "sigma-parts").iterdir())  # the parts' scratch folders are gone


def test_the_plan_expects_a_cells_evaluation_seconds_and_shares_them_per_sigma(isolated, monkeypatch) -> None:  # noqa: ANN001
    from workbench.pipeline import prefetch

    timing = prefetch._Timing(2.0, {"10.0": 30.0, "50.0": 90.0})  # a cell whose evaluations were reused
    monkeypatch.setattr(prefetch, "_last_seconds", lambda spec_id, profile: {"fdv": timing})
    tasks = prefetch.plan([_spec(isolated)], "tiny", data_root=None, device="cpu")
    assert {t.name: t.expected_s for t in tasks} == {"fdv": 120.0, "one": 0.0}
    first, _ = prefetch.split(tasks)
    assert [(t.name, t.sigma, t.expected_s) for t in first][:2] == [("fdv", 50.0, 90.0), ("fdv", 10.0, 30.0)]
