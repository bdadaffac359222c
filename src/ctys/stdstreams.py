"""stdout and stderr that fail cleanly: a full device, a closed descriptor, a pipe nobody
reads (issue 9, point 15).

``guarded_streams`` wraps ``sys.stdout``/``sys.stderr`` for the run of one command. A write
or flush that fails raises ``StreamError`` (an ``OSError``) naming the stream, and the
failure is remembered even when some library swallows the exception (argparse does), so
``ctys.runguard.run_guarded`` can end the command with one line and a non-zero status.
A descriptor 0, 1 or 2 that is closed when the command starts is first pointed at
/dev/null: a file opened later (the inventory, a lock) must never become "stdout".

Core utility: imports nothing of ctys.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, cast


class StreamError(OSError):
    """Writing to stdout or stderr failed (``errno`` says why)."""

    def __init__(self, stream: str, code: int, reason: str) -> None:
        super().__init__(code, f"cannot write to {stream}: {reason}")
        self.stream = stream


class GuardedStream:
    """A text stream that turns its ``OSError``s into a remembered ``StreamError``.

    ``inner`` is None for a descriptor that was closed at start: every write fails with
    ``EBADF``, as writing to it would."""

    def __init__(self, inner: TextIO | None, name: str) -> None:
        self.inner = inner
        self.name = name
        self.failure: StreamError | None = None

    def write(self, text: str) -> int:
        """Write ``text``; ``StreamError`` when the stream cannot take it."""
        if self.failure is not None:
            raise self.failure  # nothing after a lost write: the output has a hole
        if self.inner is None:
            raise self._fail(errno.EBADF, "the descriptor is closed")
        try:
            return self.inner.write(text)
        except (OSError, ValueError) as err:
            raise self._failed(err) from err

    def writelines(self, lines: Iterable[str]) -> None:
        """Write every line (no line ends are added)."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the buffer; ``StreamError`` when that fails (also after a failed write)."""
        if self.failure is not None:
            raise self.failure
        if self.inner is None:
            return
        try:
            self.inner.flush()
        except (OSError, ValueError) as err:
            raise self._failed(err) from err

    def isatty(self) -> bool:
        """Whether the stream is a terminal (a closed one is not)."""
        if self.inner is None:
            return False
        try:
            return self.inner.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        """The descriptor; ``io.UnsupportedOperation`` for a closed stream."""
        if self.inner is None:
            raise io.UnsupportedOperation(f"{self.name} is closed")
        return self.inner.fileno()

    def __getattr__(self, name: str) -> Any:
        # encoding, errors, buffer, ... as the wrapped stream has them.
        if self.inner is None:
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _failed(self, err: OSError | ValueError) -> StreamError:
        self.failure = stream_failure(self.name, err)
        return self.failure

    def _fail(self, code: int, reason: str) -> StreamError:
        self.failure = StreamError(self.name, code, reason)
        return self.failure


@contextlib.contextmanager
def guarded_streams() -> Iterator[tuple[GuardedStream, GuardedStream]]:
    """``sys.stdout`` and ``sys.stderr`` as ``GuardedStream``s while the block runs (the
    originals are put back afterwards); yields (stdout, stderr)."""
    _occupy_closed_descriptors()
    saved = sys.stdin, sys.stdout, sys.stderr
    out = GuardedStream(_usable(sys.stdout), "stdout")
    err = GuardedStream(_usable(sys.stderr), "stderr")
    sys.stdout, sys.stderr = cast(TextIO, out), cast(TextIO, err)
    # A closed stdin reads as empty (and is no terminal), not as None.
    empty = Path(os.devnull).open(encoding="utf-8") if sys.stdin is None else None  # noqa: SIM115
    if empty is not None:
        sys.stdin = empty
    try:
        yield out, err
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        if empty is not None:
            empty.close()
        for stream in (out, err):
            if stream.failure is not None:
                silence(stream)


def stream_failure(name: str, err: OSError | ValueError) -> StreamError:
    """The ``StreamError`` of a write or flush on the stream ``name`` that raised ``err``."""
    if isinstance(err, OSError) and err.errno is not None:
        return StreamError(name, err.errno, err.strerror or str(err))
    return StreamError(name, errno.EBADF, str(err))  # "I/O operation on closed file"


def silence(stream: GuardedStream) -> None:
    """Point a failed stream's descriptor at /dev/null and drop what it still buffers, so
    Python's flush at exit has nothing to fail on (no "Exception ignored ..." message,
    no exit status 120)."""
    if stream.inner is not None:
        silence_file(stream.inner)


def silence_file(inner: TextIO) -> None:
    """``silence`` for a plain text stream (``sys.stdout`` itself)."""
    with contextlib.suppress(OSError, ValueError):
        fd = inner.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    # What is left in the buffer now goes to /dev/null; flush it while we look.
    with contextlib.suppress(OSError, ValueError):
        inner.flush()


def _usable(stream: TextIO | None) -> TextIO | None:
    """``stream`` unless it is None (Python found the descriptor closed) or its descriptor
    is the /dev/null we put in place of a closed one."""
    if stream is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        if stream.fileno() in _OCCUPIED:
            return None
    return stream


# Descriptors 0..2 that were closed at start and now hold /dev/null.
_OCCUPIED: set[int] = set()


def _occupy_closed_descriptors() -> None:
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_RDWR)
                if devnull != fd:
                    os.dup2(devnull, fd)
                    os.close(devnull)
                os.set_inheritable(fd, True)
                _OCCUPIED.add(fd)
