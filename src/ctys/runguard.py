"""What every ctys command (ctys, ctys-vhost, ctys-demo, ctys-createConfVM) runs its body
in: each error one line and its exit status (``ctys.errors.exit_status``), guarded
stdout/stderr (``ctys.stdstreams``), stop signals raised as exceptions
(``ctys.stopsignals``).

Core utility, so that an entry point in ``ctys.cli`` and one in a plugin share it: imports
``errors``, ``textescape``, ``stdstreams`` and ``stopsignals`` only."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable
from typing import TextIO, cast

from ctys.errors import CtysError, ExitStatus, exit_status
from ctys.stdstreams import GuardedStream, StreamError, guarded_streams, silence
from ctys.stopsignals import stop_signals_raise
from ctys.textescape import one_line


def run_guarded(prog: str, body: Callable[[], int], debug: Callable[[], int]) -> int:
    """Run a command's ``body`` with guarded stdout/stderr (``ctys.stdstreams``): a
    ``CtysError`` becomes ``prog: message`` on stderr and its exit code (re-raised for a
    traceback when ``debug()`` is 2 or more), Ctrl-C exit 130 (SIGTERM/SIGHUP 128 + N),
    any other ``OSError`` one line naming its file and exit 1. Output that cannot be
    written (a full device, a closed descriptor) is one line on stderr, if stderr works,
    and exit 1; a pipe whose reader is gone a quiet exit 141. The streams are flushed
    here, so a failure at the very end is caught too."""
    with guarded_streams() as (out, err):
        status = _run(prog, body, cast(TextIO, err), debug)
        if status == ExitStatus.BROKEN_PIPE and out.failure is None:
            silence(out)  # Python's flush at exit would report the pipe again
        for stream in (out, err):
            with contextlib.suppress(StreamError):
                stream.flush()
        return _stream_status(prog, status, out, err)


def _run(prog: str, body: Callable[[], int], err: TextIO, debug: Callable[[], int]) -> int:
    # SIGTERM/SIGHUP are handled like Ctrl-C (exit 128 + signal), so cleanups run for them.
    try:
        with stop_signals_raise():
            return body()
    except CtysError as exc:
        if debug() >= 2:
            raise
        _say(err, f"{prog}: {one_line(str(exc))}")
        return exit_status(exc)
    except KeyboardInterrupt as exc:
        return exit_status(exc)
    except StreamError:
        return ExitStatus.OUTPUT  # _stream_status says what
    except BrokenPipeError:
        # EPIPE from a write that went around the guarded stream (its raw buffer).
        return ExitStatus.BROKEN_PIPE
    except OSError as exc:
        # A file operation no CtysError covers (a full disk, a folder gone): still one
        # line naming the file, not a traceback (-d 2 shows one).
        if debug() >= 2:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _say(err, f"{prog}: {one_line(where + (exc.strerror or str(exc)))}")
        return ExitStatus.ERROR
    except SystemExit as exc:  # argparse after -h: the streams are still to be checked
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        _say(err, f"{prog}: {one_line(str(exc.code))}")
        return ExitStatus.ERROR


def _stream_status(prog: str, status: int, out: GuardedStream, err: GuardedStream) -> int:
    """The exit status once stdout/stderr failures are counted in."""
    if out.failure is not None:
        if out.failure.errno == errno.EPIPE:
            return ExitStatus.BROKEN_PIPE  # like any tool whose reader went away: no message
        _say(cast(TextIO, err), f"{prog}: {out.failure.strerror}")
        return status or ExitStatus.OUTPUT
    if err.failure is not None:
        return status or ExitStatus.OUTPUT  # nowhere left to say it
    return status


def _say(err: TextIO, line: str) -> None:
    """Print one line to stderr, unless stderr itself is broken."""
    with contextlib.suppress(StreamError):
        print(line, file=err, flush=True)
