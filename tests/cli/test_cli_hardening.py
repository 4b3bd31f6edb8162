"""Hardening: every bad value or environment ends in one line ``error: …``, exit 2, and nothing partial
(no results file, no index row, no finished cell in the cache); global options work before or after the
sub-command; a part of Set8 (its GoPro sequences) evaluates alone, its rows marked as a subset."""

import errno
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]

SPEC = """
id: {id}
title: hardening check
notebook: restoration
profiles:
  tiny:
    dataset_map: {{embedded-test: set8}}
    reported_tables: [table1]
    defaults:
      kind: restoration
      evaluate: {{dataset: {dataset}, sigmas: [20], max_frames: 3, max_sequences: 1{evaluate}}}
    cells:
      - {{name: m, method: {method}, model: {model}{extra}}}
"""

TRAIN = ", train: {steps: 1, batch_size: 1, patch_size: 32, log_every: 1, checkpoint_every: 1}"

COMPLEXITY = """
id: {id}
title: complexity check
notebook: complexity
profiles:
  tiny:
    cells:
      - {{name: c, kind: complexity, models: [fastdvdnet], resolution: 64x64{extra}}}
"""


def write_spec(root: Path, name: str, *, dataset: str = "embedded-test", method: str = "noisy-input",
               model: str = "noisy-input", extra: str = "", evaluate: str = "", template: str = SPEC) -> Path:
    path = root / f"{name}.yaml"
    path.write_text(template.format(id=name, dataset=dataset, method=method, model=model, extra=extra,
                                    evaluate=evaluate))
    return path


def assert_one_line_error(r, *needles: str, code: int = 2) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = [line for line in r.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def assert_nothing_partial(root: Path, *, cache: bool = True) -> None:
    """No results file; with ``cache``, no cell cached as done either."""
    results = root / "results"
    files = [p for p in results.rglob("*") if p.is_file()] if results.exists() else []
    assert not files, files  # no version, no index.csv, no staging left behind
    cells = root / "runs" / "cells"
    if cache:
        assert not (cells.exists() and list(cells.rglob("done.json"))), "a failed cell was cached as done"
    for done in cells.rglob("done.json") if cells.exists() else []:  # what is cached is whole
        assert (done.parent / "rows.csv").stat().st_size > 0


# (id, --set override or spec change, words the error line must hold)
VALUE_CASES = [
    ("sigma-negative", ["--set", "evaluate.sigmas=[-5]"], ["sigmas", "> 0", "-5"]),
    ("sigma-nan", ["--set", "evaluate.sigmas=[.nan]"], ["sigmas", "finite", "nan"]),
    ("sigma-inf", ["--set", "evaluate.sigmas=[.inf]"], ["sigmas", "finite"]),
    ("sigmas-empty", ["--set", "evaluate.sigmas=[]"], ["sigmas", "empty"]),
    ("rounding-bogus", ["--set", "evaluate.rounding=bogus"], ["rounding", "'bogus'", "uint8"]),
    ("max-frames-zero", ["--set", "evaluate.max_frames=0"], ["max_frames", "at least 1"]),
    ("max-sequences-zero", ["--set", "evaluate.max_sequences=0"], ["max_sequences", "at least 1"]),
    ("crop-border-negative", ["--set", "evaluate.crop_border=-1"], ["crop_border", "0 or more"]),
    ("chunk-len-zero", ["--set", "evaluate.chunk_len=0"], ["chunk_len", "at least 1"]),
    ("chunk-overlap-negative", ["--set", "evaluate.chunk_overlap=-2"], ["chunk_overlap", "0 or more"]),
    ("sequences-empty", ["--set", "evaluate.sequences=[]"], ["sequences", "empty"]),
    ("sequences-unknown", ["--sequences", "nosuch"], ["'nosuch'", "embedded-test", "bikes_cyclist"]),
    ("sequences-blank", ["--sequences", ","], ["--sequences"]),
    ("device-unknown", ["--device", "tpu"], ["--device", "tpu"]),
]


@pytest.mark.parametrize("case,args,needles", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_bad_evaluation_values_are_refused(isolated, cli, case, args, needles):
    spec = write_spec(isolated, "vals")
    r = cli("run", str(spec), "--profile", "tiny", *args)
    assert_one_line_error(r, *needles)
    assert_nothing_partial(isolated)


SECTION_CASES = [
    ("complexity-no-models", COMPLEXITY.replace("models: [fastdvdnet]", "models: []"), "", ["models", "empty"]),
    ("complexity-steady-frames", COMPLEXITY, ", steady_frames: 1", ["steady_frames", "at least 2"]),
    ("complexity-repeats", COMPLEXITY, ", repeats: 0", ["repeats", "at least 1"]),
    ("complexity-resolution", COMPLEXITY, ", runtime_resolution: '0x64'", ["runtime_resolution", "at least 1"]),
    ("train-log-every", SPEC, "", ["log_every", "at least 1"]),
]


@pytest.mark.parametrize("case,template,extra,needles", SECTION_CASES, ids=[c[0] for c in SECTION_CASES])
def test_bad_complexity_and_training_values_are_refused(isolated, cli, case, template, extra, needles):
    if case == "train-log-every":
        spec = write_spec(isolated, "sect", method="fastdvdnet", model="fastdvdnet",
                          extra=TRAIN.replace("log_every: 1", "log_every: 0"))
    else:
        spec = write_spec(isolated, "sect", template=template, extra=extra)
    r = cli("run", str(spec), "--profile", "tiny")
    assert_one_line_error(r, *needles)
    assert_nothing_partial(isolated)


FIG2_CASES = [
    ("sigmas=[-5]", ["sigmas", "> 0"]),
    ("sigmas=[]", ["sigmas", "empty"]),
    ("max_frames=0", ["max_frames", "at least 1"]),
    ("qps=[60]", ["qps", "[0, 51]"]),
    ("lambdas=[-1]", ["lambdas", "> 0"]),
    ("preset=fastest", ["preset", "'fastest'"]),
]


@pytest.mark.parametrize("override,needles", FIG2_CASES, ids=[c[0] for c in FIG2_CASES])
def test_bad_fig2_values_are_refused(isolated, cli, override, needles):
    r = cli("run", "fig2", "--profile", "smoke", "--set", override)
    assert_one_line_error(r, "fig2.yaml", *needles)
    assert_nothing_partial(isolated)


def test_missing_checkpoint_path_stops_before_any_work(isolated, cli):
    spec = write_spec(isolated, "ckpt", method="fastdvdnet", model="fastdvdnet",
                      extra=f", checkpoint: {isolated / 'nowhere.pth'}")
    r = cli("run", str(spec), "--profile", "tiny")
    assert_one_line_error(r, "nowhere.pth", "checkpoint not found")
    assert_nothing_partial(isolated)


def _train_dir(spec: Path) -> Path:
    from workbench.context import RunContext
    from workbench.pipeline.restoration import train_dir
    from workbench.pipeline.runner import cell_inputs
    from workbench.pipeline.spec import expand, load_spec

    s = load_spec(str(spec))
    ((name, kind, params),) = expand(s, "tiny")
    inputs = cell_inputs(s.id, "tiny", name, kind, params, data_root=None, device="cpu")
    ctx = RunContext(spec_id=s.id, profile="tiny", cell_name=name, work_dir=Path("."), artifact_dir=Path("."),
                     input_checksums=inputs)
    return train_dir(params, ctx)


@pytest.mark.parametrize("file", ["model.pt", "checkpoint.pt"])
def test_corrupt_cached_training_file(isolated, cli, file):
    spec = write_spec(isolated, "corrupt", method="fastdvdnet", model="fastdvdnet", extra=TRAIN)
    d = _train_dir(spec)
    d.mkdir(parents=True)
    (d / file).write_bytes(b"\x00 not a torch file")
    r = cli("run", str(spec), "--profile", "tiny")
    assert_one_line_error(r, file, "delete it")
    assert_nothing_partial(isolated)


def test_non_utf8_spec(isolated, cli):
    spec = isolated / "latin1.yaml"
    spec.write_bytes("id: latin1\ntitle: caf\xe9\n".encode("latin-1"))
    r = cli("run", str(spec))
    assert_one_line_error(r, "latin1.yaml", "not UTF-8")
    assert_nothing_partial(isolated)


@pytest.mark.parametrize("where", ["results", "runs"])
def test_disk_full_is_one_line_naming_the_path(isolated, cli, monkeypatch, where):
    from workbench import atomic

    real = atomic.write_text
    full = str(isolated / where)

    def write_text(path, text, *a, **k):
        if str(path).startswith(full):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text, *a, **k)

    monkeypatch.setattr(atomic, "write_text", write_text)
    spec = write_spec(isolated, "full")
    r = cli("run", str(spec), "--profile", "tiny", "--no-notebook")
    assert_one_line_error(r, full, os.strerror(errno.ENOSPC))
    # a full results disk keeps the finished (whole) cell for the rerun; a full runs disk caches nothing
    assert_nothing_partial(isolated, cache=where == "runs")


def test_read_only_results_root_stops_before_training(isolated, cli, monkeypatch):
    # the tests may run as root, whom chmod does not stop: the OS refusal is simulated where it happens
    from workbench.store import versions

    def refuse(table, profile, root=None):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(isolated / "results" / table))

    monkeypatch.setattr(versions, "new_staging", refuse)
    spec = write_spec(isolated, "ro", method="fastdvdnet", model="fastdvdnet", extra=TRAIN)
    r = cli("run", str(spec), "--profile", "tiny")
    assert_one_line_error(r, str(isolated / "results"), "Permission denied")
    assert_nothing_partial(isolated)
    assert not (isolated / "runs" / "train").exists()  # refused before the first cell trained


def test_results_root_on_a_file(isolated, cli, monkeypatch):
    (isolated / "afile").write_text("x")
    monkeypatch.setenv("WORKBENCH_RESULTS", str(isolated / "afile" / "results"))
    spec = write_spec(isolated, "onfile")
    r = cli("run", str(spec), "--profile", "tiny")
    assert_one_line_error(r, "afile")
    assert_nothing_partial(isolated)


def test_missing_version_dir(isolated, cli):
    r = cli("notebook", "restoration", "--version-dir", str(isolated / "results" / "t" / "p" / "v0009"))
    assert_one_line_error(r, "v0009", "not a published results version")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a build or machine without CUDA")
@pytest.mark.parametrize("command", [["run", "table1"], ["reproduce"], ["bench", "runtime"],
                                     ["audit", "complexity"], ["train", "--config", "x.yaml"]])
def test_cuda_without_cuda_is_refused_before_any_work(isolated, cli, command):
    r = cli(*command, "--device", "cuda")
    assert_one_line_error(r, "--device cuda", "CUDA")
    assert_nothing_partial(isolated)


def test_shorter_sequence_than_the_window_is_refused_by_name(isolated, cli):
    spec = write_spec(isolated, "short", method="fastdvdnet", model="fastdvdnet")
    r = cli("run", str(spec), "--profile", "tiny")
    assert_one_line_error(r, "bikes_cyclist", "3 frame(s)", "5-frame window")
    assert_nothing_partial(isolated)


def test_a_cell_with_no_rows_is_an_error_not_a_cached_success(isolated, cli, monkeypatch):
    import dataclasses

    from workbench.pipeline import kinds, runner

    real = kinds.CELL_KINDS.get("restoration")
    empty = dataclasses.replace(real, run=lambda params, ctx: [])

    class OneKind:
        def get(self, kind_id):
            return empty

    monkeypatch.setattr(runner, "CELL_KINDS", OneKind())
    spec = write_spec(isolated, "empty")
    r = cli("run", str(spec), "--profile", "tiny")
    assert_one_line_error(r, "no result rows")
    assert_nothing_partial(isolated)


def test_sequences_on_a_spec_without_sequences(isolated, cli):
    spec = write_spec(isolated, "cx", template=COMPLEXITY)
    r = cli("run", str(spec), "--profile", "tiny", "--sequences", "a,b")
    assert_one_line_error(r, "--sequences", "no cell that evaluates sequences")
    assert_nothing_partial(isolated)


def test_an_internal_error_is_one_line_and_a_traceback_only_with_debug(isolated, cli, monkeypatch):
    from workbench.store import versions

    def boom(*a, **k):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(versions, "read_index", boom)
    r = cli("results", "list")
    assert_one_line_error(r, "internal error RuntimeError: boom", "--debug", code=1)
    d = cli("results", "list", "--debug")
    assert d.returncode == 1 and "Traceback" in d.stderr
    bad = write_spec(isolated, "dbg", extra=f", checkpoint: {isolated / 'none.pth'}")
    d2 = cli("--debug", "run", str(bad), "--profile", "tiny")
    assert d2.returncode == 2 and "Traceback" in d2.stderr and "none.pth" in d2.stderr.splitlines()[-1]


def test_an_empty_results_root_needs_no_reported_copy(isolated, cli):
    # the reported table is package data: a separate, empty WORKBENCH_RESULTS works
    assert not any((isolated / "results").iterdir())
    spec = write_spec(isolated, "sep")
    r = cli("run", str(spec), "--profile", "tiny", "--no-notebook")
    assert r.returncode == 0, r.stderr
    rep = pd.read_csv(isolated / "results" / "sep" / "tiny" / "v0001" / "reported.csv")
    assert (rep["table"] == "table1").all() and len(rep) > 10
    assert not (REPO / "results" / "reported").exists()  # one source only


# --- global options, help, version ----------------------------------------------------------------


def test_data_root_before_or_after_the_subcommand_behaves_the_same(isolated, cli):
    root = str(isolated / "nowhere")
    before = cli("--data-root", root, "data", "check", "set8")
    after = cli("data", "check", "set8", "--data-root", root)
    alias = cli("data", "check", "set8", "--root", root)
    assert before.returncode == after.returncode == alias.returncode == 1
    assert before.stdout == after.stdout == alias.stdout
    assert str(isolated / "nowhere" / "Set8") in before.stdout


def test_global_options_after_the_subcommand(isolated, cli):
    spec = write_spec(isolated, "glob")
    loud = cli("run", str(spec), "--profile", "tiny", "--no-notebook", "-v")
    assert loud.returncode == 0, loud.stderr
    assert "running cell m" in loud.stderr
    quiet = cli("run", str(spec), "--profile", "tiny", "--no-notebook", "-q", "--debug")
    assert quiet.returncode == 0, quiet.stderr
    assert "reusing cell" not in quiet.stderr and quiet.stderr.strip() == ""
    default = cli("-q", "run", str(spec), "--profile", "tiny", "--no-notebook")
    assert default.returncode == 0 and "reusing cell" not in default.stderr


def test_version(capsys):
    from workbench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    assert out.startswith("workbench 0.1.0") and "git " in out


def _all_parsers(p):
    import argparse

    yield p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                yield from _all_parsers(sub)


def test_every_option_has_help_text_and_shows_its_default():
    import argparse

    from workbench.cli import build_parser

    missing = []
    for p in _all_parsers(build_parser()):
        assert isinstance(p.formatter_class, type) and issubclass(p.formatter_class,
                                                                  argparse.ArgumentDefaultsHelpFormatter)
        for a in p._actions:
            if not isinstance(a, argparse._SubParsersAction) and not a.help:
                missing.append(f"{p.prog} {'/'.join(a.option_strings) or a.dest}")
    assert not missing, missing
    text = next(p for p in _all_parsers(build_parser()) if p.prog.endswith("bench runtime")).format_help()
    assert "(default: 960x540)" in text and "--data-root" in text


# --- a part of Set8 --------------------------------------------------------------------------------


def _gopro_set8(root: Path) -> Path:
    """Set8 grouped layout with only its four GoPro sequences, 3 frames each (960x540, 8-bit RGB PNG)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:540, 0:960]
    for i, name in enumerate(("hypersmooth", "motorbike", "rafting", "snowboard")):
        d = root / "Set8" / "GoPro" / name
        d.mkdir(parents=True)
        for t in range(3):
            base = np.stack([(xx + 7 * t + 40 * i) % 256, (yy + 3 * t) % 256, (xx + yy) // 6 % 256], -1)
            img = np.clip(base + rng.integers(-4, 5, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"{t:05d}.png")
    return root


def test_the_gopro_part_of_set8_evaluates_marked_as_a_subset(isolated, cli):
    data = _gopro_set8(isolated / "data")
    # joined by method: the noisy-input network stands in for FastDVDNet so the test needs no training
    spec = write_spec(isolated, "gopro", dataset="set8", method="fastdvdnet", evaluate=", max_frames: 3",
                      model="noisy-input")
    spec.write_text(spec.read_text().replace(", max_sequences: 1", ""))
    whole = cli("--data-root", str(data), "run", str(spec), "--profile", "tiny", "--no-notebook")
    assert_one_line_error(whole, "tractor", "missing")  # the whole of Set8 still needs all 8
    gopro = "hypersmooth,motorbike,rafting,snowboard"
    r = cli("run", str(spec), "--profile", "tiny", "--no-notebook", "--sequences", gopro, "--data-root", str(data))
    assert r.returncode == 0, r.stderr
    v = isolated / "results" / "gopro" / "tiny" / "v0001"
    measured = pd.read_csv(v / "measured.csv")
    assert set(measured["subset"]) == {"hypersmooth+motorbike+rafting+snowboard"}
    assert set(measured["subset_size"]) == {"4 of 8"}
    assert set(measured.loc[measured["level"] == "sequence", "sequence"]) == set(gopro.split(","))
    assert {"psnr_db", "psnr_clamped_db", "ssim"} <= set(measured["metric"])
    comp = pd.read_csv(v / "comparison.csv", keep_default_na=False)
    row = comp[(comp["setting"] == "sigma=20") & (comp["metric"] == "psnr_db") & (comp["method"] == "fastdvdnet")]
    assert len(row) == 1 and row["comparison_note"].iloc[0].startswith("subset of set8: 4 of 8 sequences")
    unmeasured = comp[comp["value_measured"] == ""]
    assert (unmeasured["comparison_note"] == "").all()
    manifest = (v / "manifest.json").read_text()
    assert json.loads(manifest)["overrides"]["evaluate"]["sequences"] == gopro.split(",")
    for text in (manifest, (v / "measured.csv").read_text()):  # no absolute path of this machine
        assert str(REPO) not in text and str(isolated / "runs") not in text
