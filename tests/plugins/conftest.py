"""Fixtures of the plugin tests: a user's model module in a temporary folder on ``sys.path``."""

import sys

import pytest
from _plugin_helpers import UserModule


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A fresh user module (unique name per test, so the global model registry never sees it twice)."""
    folder = tmp_path / "usercode"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    mod = UserModule(folder, f"usernet_{abs(hash(str(tmp_path))) % 10**8}")
    mod.write(gain=1.0)
    yield mod
    sys.modules.pop(mod.name, None)
