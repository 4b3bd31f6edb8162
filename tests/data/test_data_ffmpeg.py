from pathlib import Path

import pytest

import workbench.ffmpeg as ff
from workbench.errors import ToolError


def test_env_var_pointing_to_missing_file_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ff.ENV_VAR, str(tmp_path / "no-ffmpeg"))
    monkeypatch.setattr(ff, "_imageio_exe", lambda: None)
    monkeypatch.setattr(ff, "_path_exe", lambda: None)
    with pytest.raises(ToolError, match="WORKBENCH_FFMPEG=.*no-ffmpeg"):
        ff.ffmpeg_exe()


def test_no_ffmpeg_anywhere_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ff.ENV_VAR, raising=False)
    monkeypatch.setattr(ff, "_imageio_exe", lambda: None)
    monkeypatch.setattr(ff, "_path_exe", lambda: None)
    for prefer in ("auto", "system"):
        with pytest.raises(ToolError, match="make reproduce.*WORKBENCH_FFMPEG") as info:
            ff.ffmpeg_exe(prefer)
        assert "\n" not in str(info.value)


def test_preference_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ff.ENV_VAR, raising=False)
    monkeypatch.setattr(ff, "_imageio_exe", lambda: "/imageio/ffmpeg")
    monkeypatch.setattr(ff, "_path_exe", lambda: "/usr/bin/ffmpeg")
    assert ff.ffmpeg_exe() == "/imageio/ffmpeg"
    assert ff.ffmpeg_exe("system") == "/usr/bin/ffmpeg"
    exe = tmp_path / "my-ffmpeg"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv(ff.ENV_VAR, str(exe))
    assert ff.ffmpeg_exe("system") == str(exe)


def test_versions() -> None:
    assert ff.ffmpeg_version().startswith("ffmpeg version")
    version = ff.x265_version()  # the pinned imageio-ffmpeg binary is built with libx265
    assert version is not None and version[0].isdigit()
