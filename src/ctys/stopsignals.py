"""SIGTERM and SIGHUP end a ctys command the way Ctrl-C does: as an exception.

Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM/SIGHUP kill the process
outright, so no ``finally``/``except`` runs and a CREATE that was starting a VM process (in
its own session, which gets none of these signals) would leave it running, unmanaged. Raised
as ``Interrupted`` (a ``KeyboardInterrupt``), every cleanup that handles Ctrl-C handles them.

Core utility (``ctys.runguard`` turns them on for every command; a plugin holds them back
around a cleanup): imports only ``ctys.errors``.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

from ctys.errors import signal_status

#: The signals a CREATE must survive long enough to clean up after.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; ``exit_code`` is what a shell reports for it (128 + signal)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = signal_status(signum)
        super().__init__(signal.Signals(signum).name)


#: How many ``stop_signals_held`` blocks are open, and the stop signals that arrived in them.
#: The signal mask alone is not enough: it holds signals back from the calling thread only,
#: and a signal sent to the process is then delivered through any other thread (a worker,
#: a QMP reader), whose C handler makes Python run ours in the main thread at once.
_held = 0
_pending: list[int] = []


def _raise(signum: int, _frame: FrameType | None) -> None:
    if _held:
        if signum not in _pending:
            _pending.append(signum)
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """In the block, SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` in the main thread
    (signals that are ignored, e.g. SIGHUP under nohup, stay ignored); the previous
    handlers come back afterwards."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        for signum, handler in previous.items():
            if handler is not signal.SIG_IGN:
                signal.signal(signum, _raise)
    except ValueError:
        # Only the main thread may set handlers (Python refuses before changing any); this
        # also spares every command line the threading module's import.
        in_main_thread = False
    else:
        in_main_thread = True
    if not in_main_thread:
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def stop_signals_held() -> Iterator[None]:
    """Hold back stop signals for the block (a cleanup that must not itself be
    interrupted); one that arrived meanwhile is delivered when the block ends."""
    global _held
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        # Unblocking delivers what the mask held (our handler raises it now) ...
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        # ... and what reached the handler meanwhile through another thread comes next.
        if not _held and _pending:
            signum = _pending[0]
            _pending.clear()
            raise Interrupted(signum)
