import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty results store in tmp (``$WORKBENCH_RESULTS``); the reported numbers are package data."""
    r = tmp_path / "results"
    r.mkdir()
    monkeypatch.setenv("WORKBENCH_RESULTS", str(r))
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    return r


@pytest.fixture
def cli(capsys):
    """``workbench.cli.main`` in this process; returns an object like CompletedProcess."""
    from workbench.cli import main

    def call(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return call
