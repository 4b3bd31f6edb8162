import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Results and runs in tmp; the embedded-data cache stays shared (built once per machine)."""
    env = {"WORKBENCH_RESULTS": str(tmp_path / "results"), "WORKBENCH_RUNS": str(tmp_path / "runs")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    (tmp_path / "results" / "reported").mkdir(parents=True)
    (tmp_path / "results" / "reported" / "ncfl_cvpr2022.csv").write_bytes(
        (REPO / "results" / "reported" / "ncfl_cvpr2022.csv").read_bytes()
    )
    return tmp_path


def _run_cli(*args: str, env_extra: dict[str, str] | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)


@pytest.fixture
def run_cli():
    """Run the real `workbench` command (``python -m workbench.cli``) in a subprocess."""
    return _run_cli


@pytest.fixture
def cli(capsys):
    """Run ``workbench.cli.main`` in this process (fast); returns an object like CompletedProcess."""
    from workbench.cli import main

    def call(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return call
