"""In-process checks of the guarded stdout/stderr (ctys.stdstreams, run_guarded): a write
that fails is one line and a non-zero status, also when a library swallowed the error.
tests/unit/test_stream_faults.py does the same with real processes and descriptors."""

from __future__ import annotations

import errno
import io
import sys
from pathlib import Path

import pytest

from ctys.cli import vhost
from ctys.cli.main import main
from ctys.plugins.qemu.newconf import cli as createconf
from ctys.stdstreams import GuardedStream, StreamError


class Broken(io.StringIO):
    """A text stream whose writes fail with ``code`` (after ``room`` characters)."""

    def __init__(self, code: int, room: int = 0) -> None:
        super().__init__()
        self.code = code
        self.room = room

    def write(self, text: str) -> int:
        if len(self.getvalue()) + len(text) > self.room:
            raise OSError(self.code, "No space left on device")
        return super().write(text)


@pytest.mark.parametrize(
    "argv",
    [["-h"], ["-t", "QEMU", "-a", "LIST"], ["-t", "QEMU", "-a", "ENUMERATE", "-o", "json"]],
)
def test_ctys_output_to_a_full_device_is_one_line(
    argv: list[str], ctys_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stdout", Broken(errno.ENOSPC))
    monkeypatch.setattr(sys, "stderr", err)
    assert main(argv) == 1
    assert err.getvalue() == "ctys: cannot write to stdout: No space left on device\n"


def test_a_broken_pipe_is_quiet(ctys_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stdout", Broken(errno.EPIPE))
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["-t", "QEMU", "-a", "LIST"]) == 141
    assert err.getvalue() == ""


def test_an_error_that_cannot_be_told_still_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", Broken(errno.ENOSPC))
    assert main(["-t", "QEMU", "-a", "FLY"]) == 2


def test_a_failure_swallowed_by_argparse_is_still_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    # argparse's print_help ignores OSError and exits 0: the stream remembers.
    err = io.StringIO()
    monkeypatch.setattr(sys, "stdout", Broken(errno.ENOSPC))
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "argv", ["ctys-createConfVM", "-h"])
    assert createconf.main() == 1
    assert err.getvalue() == "ctys-createConfVM: cannot write to stdout: No space left on device\n"
    err.truncate(0)
    err.seek(0)
    assert vhost.main(["-h"]) == 1
    assert err.getvalue() == "ctys-vhost: cannot write to stdout: No space left on device\n"


def test_guarded_stream_remembers_and_refuses_after_a_failure() -> None:
    stream = GuardedStream(Broken(errno.ENOSPC, room=3), "stdout")
    assert stream.write("abc") == 3
    with pytest.raises(StreamError, match="cannot write to stdout"):
        stream.write("d")
    with pytest.raises(StreamError):
        stream.write("")  # the output has a hole now: nothing more
    with pytest.raises(StreamError):
        stream.flush()
    assert stream.failure is not None and stream.failure.errno == errno.ENOSPC


def test_a_closed_stream_fails_with_ebadf() -> None:
    stream = GuardedStream(None, "stdout")
    assert not stream.isatty()
    with pytest.raises(StreamError) as caught:
        print("x", file=stream)  # type: ignore[arg-type]
    assert caught.value.errno == errno.EBADF


def test_a_closed_stdin_reads_as_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", None)  # what Python makes of a closed descriptor 0
    assert vhost.main(["-c", str(tmp_path / "inv.sqlite"), "--import", "-"]) == 0
    assert capsys.readouterr().err == "ctys-vhost: merged 0 records from -\n"
    assert sys.stdin is None


def test_an_os_error_no_ctys_error_covers_is_one_line(
    plugins_raise: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-t", "QEMU", "-a", "LIST"]) == 1
    assert capsys.readouterr().err == "ctys: /x/instmode.json: No space left on device\n"
    with pytest.raises(OSError):
        main(["-t", "QEMU", "-a", "LIST", "-d", "2"])


@pytest.fixture
def plugins_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctys.cli.main as cli_main

    def run_here(*_args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", "/x/instmode.json")

    monkeypatch.setattr(cli_main, "run_here", run_here)
