"""Tests of workbench/codec: every test runs on one torch thread (fixture ``one_torch_thread`` of tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):  # type: ignore[no-untyped-def]
    yield
