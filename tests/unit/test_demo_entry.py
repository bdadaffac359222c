"""ctys-demo goes through the same entry-point guard as the other commands: an error is
one escaped line (a CtysError or a plain OSError), Ctrl-C exit 130, no traceback."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from ctys.cli import demo
from ctys.errors import CtysError


def _raising(exc: BaseException) -> object:
    def build() -> object:
        raise exc

    return build


def test_ctys_error_is_one_escaped_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "build_guest", _raising(CtysError("no \x1b[2J kernel")))
    assert demo.main() == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "ctys-demo: no \\x1b[2J kernel\n"


def test_os_error_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/cache/guest")
    monkeypatch.setattr(demo, "build_guest", _raising(full))
    assert demo.main() == 1
    assert capsys.readouterr().err == "ctys-demo: /cache/guest: No space left on device\n"


def test_ctrl_c_is_exit_130(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "build_guest", _raising(KeyboardInterrupt()))
    assert demo.main() == 130


def test_success_lines_go_through_the_escaping_writer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "de\x1bmo"
    monkeypatch.setattr(demo, "build_guest", lambda: object())
    monkeypatch.setattr(demo, "default_demo_dir", lambda: folder)
    monkeypatch.setattr(demo, "write_demo_conf", lambda directory, guest: directory / "demo.conf")
    assert demo.main() == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert f"demo VM conf: {tmp_path}/de\\x1bmo/demo.conf\n" in out
    assert f"BASEPATH:{tmp_path}/de\\x1bmo,CONSOLE:CLI\n" in out
