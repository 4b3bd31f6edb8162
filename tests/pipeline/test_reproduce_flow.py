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
