"""Errors to exit codes, in one place for every ctys command (ctys, ctys-vhost, ...)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import TextIO

from ctys.errors import CtysError

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the pipe


def one_line(message: str) -> str:
    """The message as one printable line: line breaks, escape sequences and other control
    characters a user typed (or a file held) are shown escaped, never sent to the terminal."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in message
    )


def run_guarded(prog: str, body: Callable[[], int], err: TextIO, debug: Callable[[], int]) -> int:
    """Run a command's ``body``: a ``CtysError`` becomes ``prog: message`` on ``err`` and its
    exit code (re-raised for a traceback when ``debug()`` is 2 or more), Ctrl-C exit 130,
    a closed output pipe a quiet exit 141. SIGTERM/SIGHUP are handled like Ctrl-C (exit
    128 + signal), so cleanups run for them too."""
    from ctys.cli.signals import stop_signals_raise

    try:
        with stop_signals_raise():
            return body()
    except CtysError as exc:
        if debug() >= 2:
            raise
        print(f"{prog}: {one_line(str(exc))}", file=err)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return getattr(exc, "exit_code", EXIT_INTERRUPTED)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    # Python flushes stdout at exit; after EPIPE that would print another error. Point the
    # descriptor at /dev/null so the exit is quiet.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
