"""`workbench reproduce`: specs without the profile are skipped and said so; the denoising tables of a
profile end in a report version whose path is printed, with the verdict lines."""

from workbench.reproduce import reproduce, with_profile

SPEC = """
id: table5
title: a tiny stand-in for Table 5
notebook: restoration
profiles:
  tiny:
    kind: mini evidence
    dataset_map: {embedded-test: set8}
    defaults:
      kind: restoration
      train: {steps: 1, batch_size: 1, patch_size: 32, clip_frames: 3, log_every: 1, checkpoint_every: 1,
              motion: {init: none}}
      evaluate: {dataset: embedded-test, sigmas: [50], max_frames: 3, max_sequences: 2}
    cells:
      - {name: ncfl-ma, method: ncfl-ma, model: ncfl, model_args: {preset: Ma, width_scale: 0.125, cab_blocks: 1}}
      - {name: ncfl-mb, method: ncfl-mb, model: ncfl, model_args: {preset: Mb, width_scale: 0.125, cab_blocks: 1}}
"""


def test_specs_without_the_profile_are_skipped() -> None:
    have, skipped = with_profile(["table1", "complexity", "fig2", "table2"], "mini")
    assert have == ["table1", "fig2", "table2"] and skipped == ["complexity"]


def test_reproduce_ends_with_a_report(isolated, capsys) -> None:  # noqa: ANN001
    spec = isolated / "table5.yaml"
    spec.write_text(SPEC)
    reproduce([str(spec)], profile="tiny", data_root=None, device="cpu")
    out = capsys.readouterr().out
    report = isolated / "results" / "report" / "tiny" / "v0001"
    assert f"== report: {report}" in out and (report / "report.html").is_file()
    assert "table5-mb-over-ma" in out and "table8-ncfl-bi-over-uni" in out  # every verdict line is printed
    assert (report / "verdicts.csv").read_text().count("\n") > 3


TWO = """
id: {id}
title: two cells, one shared with the other spec
notebook: restoration
profiles:
  tiny:
    kind: mini evidence
    dataset_map: {{embedded-test: set8}}
    reported_tables: [table1]
    defaults:
      kind: restoration
      train: {{steps: 1, batch_size: 1, patch_size: 32, clip_frames: 3, log_every: 1, checkpoint_every: 1,
              motion: {{init: none}}}}
      evaluate: {{dataset: embedded-test, sigmas: [50], max_frames: 5, max_sequences: 1}}
    cells:
      - {{name: noisy, method: noisy-input, model: noisy-input, train: null}}
      - {{name: {cell}, method: fastdvdnet, model: fastdvdnet, model_args: {{base_channels: {width}}}}}
"""


def _two_specs(tmp):
    paths = []
    for spec_id, cell, width in (("twoa", "fdv", 4), ("twob", "fdv-wide", 8)):
        path = tmp / f"{spec_id}.yaml"
        path.write_text(TWO.format(id=spec_id, cell=cell, width=width))
        paths.append(str(path))
    return paths


def test_jobs_run_every_distinct_cell_ahead_and_the_specs_then_reuse_them(isolated, capsys) -> None:  # noqa: ANN001
    from workbench.pipeline import prefetch

    specs = _two_specs(isolated)
    tasks = prefetch.plan(specs, "tiny", data_root=None, device="cpu")
    assert sorted(t.name for t in tasks) == ["fdv", "fdv-wide", "noisy"]  # the two noisy rows are one cell
    summaries = reproduce(specs, profile="tiny", data_root=None, device="cpu", jobs=2, report=False)
    out = capsys.readouterr().out
    assert "ran 3 of 3 cells ahead in 2 processes" in out and "published 2 of 2 specs in 2 processes" in out
    assert [s.spec_id for s in summaries] == ["twoa", "twob"]  # the order asked for, whatever finished first
    assert all((s.version_dir / "measured.csv").is_file() for s in summaries)
    assert all(s.cells_run == [] for s in summaries)  # every cell was found done
    assert [sorted(s.cells_reused) for s in summaries] == [["fdv", "noisy"], ["fdv-wide", "noisy"]]


def test_a_cell_that_fails_in_a_worker_runs_again_in_the_main_process(isolated) -> None:  # noqa: ANN001
    from workbench.pipeline import prefetch

    specs = _two_specs(isolated)
    tasks = prefetch.plan(specs, "tiny", data_root=None, device="cpu")
    broken = [prefetch.Task(**{**t.__dict__, "kind_id": "no-such-kind"}) if t.name == "fdv" else t for t in tasks]
    assert prefetch.warm(broken, jobs=2, data_root=None, device="cpu") == ["twoa/fdv"]
    summaries = [reproduce([s], profile="tiny", data_root=None, device="cpu", report=False)[0] for s in specs]
    assert summaries[0].cells_run == ["fdv"] and summaries[1].cells_run == []


def test_a_spec_that_fails_in_a_publishing_worker_is_left_to_the_main_process(isolated) -> None:  # noqa: ANN001
    from workbench.pipeline import prefetch

    specs = _two_specs(isolated)
    done = prefetch.publish([specs[0], str(isolated / "missing.yaml")], "tiny", jobs=2, data_root=None, device="cpu")
    assert list(done) == [specs[0]] and (done[specs[0]].version_dir / "measured.csv").is_file()
