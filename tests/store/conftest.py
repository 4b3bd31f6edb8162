"""The store tests' results root; the in-process ``cli`` fixture comes from tests/conftest.py."""

import pytest


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty results store in tmp (``$WORKBENCH_RESULTS``); the reported numbers are package data."""
    r = tmp_path / "results"
    r.mkdir()
    monkeypatch.setenv("WORKBENCH_RESULTS", str(r))
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    return r
