"""Tests of workbench/evaluate/fig2: every test runs on one torch thread (fixture of tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):  # type: ignore[no-untyped-def]
    yield
