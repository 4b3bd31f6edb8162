"""`reproduce --jobs`: the workers share SPyNet flows through a folder of this run's own under runs/flows,
removed when the run ends (a mini reproduce left 231 MB there, never pruned); a folder named by the user
(`$WORKBENCH_FLOW_STORE`) is kept, and folders of killed runs are removed by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workbench.models.spynet import FLOW_STORE_ENV
from workbench.paths import runs_root
from workbench.pipeline import prefetch


def _fake_batches(seen: list[str]):  # type: ignore[no-untyped-def]
    def run(first, then, *, jobs, threads, flows, data_root, device, failed):  # type: ignore[no-untyped-def]
        seen.append(flows)
        (Path(flows) / "a-flow.npy").write_bytes(b"x")  # what the workers write
    return run


def test_the_runs_flow_folder_is_its_own_and_gone_afterwards(isolated, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv(FLOW_STORE_ENV, raising=False)
    seen: list[str] = []
    monkeypatch.setattr(prefetch, "_warm_batches", _fake_batches(seen))
    assert prefetch.warm([], jobs=2, data_root=None, device="cpu") == []
    (store,) = seen
    assert Path(store).parent == runs_root() / prefetch.FLOW_RUNS
    assert Path(store).name.startswith(f"run-{os.getpid()}-")
    assert not Path(store).exists()


def test_a_named_store_is_kept(isolated, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    monkeypatch.setenv(FLOW_STORE_ENV, str(tmp_path / "mine"))
    (tmp_path / "mine").mkdir()
    seen: list[str] = []
    monkeypatch.setattr(prefetch, "_warm_batches", _fake_batches(seen))
    prefetch.warm([], jobs=2, data_root=None, device="cpu")
    assert seen == [str(tmp_path / "mine")] and (tmp_path / "mine" / "a-flow.npy").is_file()


def test_folders_of_dead_runs_are_removed_and_live_ones_kept(isolated, monkeypatch) -> None:  # noqa: ANN001
    root = runs_root() / prefetch.FLOW_RUNS
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()  # a process that has exited
    dead, live = root / f"run-{gone}-abc", root / f"run-{os.getppid()}-def"
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "f.npy").write_bytes(b"x")
    fresh = Path(prefetch._run_flow_store())
    assert not dead.exists() and live.is_dir() and fresh.is_dir()
