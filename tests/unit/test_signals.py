"""SIGTERM/SIGHUP end a ctys command like Ctrl-C: an exception (cleanups run), exit 128+N."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from ctys.runguard import run_guarded
from ctys.stopsignals import Interrupted, stop_signals_held, stop_signals_raise


@pytest.fixture
def default_dispositions() -> Iterator[None]:
    """The stop signals as an interactive shell hands them over: a runner started under
    nohup or as a background job inherits SIGHUP/SIGINT ignored, which ctys keeps."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.usefixtures("default_dispositions")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stop_signal_runs_cleanups_and_exits_128_plus_signal(signum: int) -> None:
    before = signal.getsignal(signum)
    cleaned: list[str] = []

    def body() -> int:
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)
        finally:
            cleaned.append("yes")
        return 0

    assert run_guarded("ctys", body, lambda: 0) == 128 + signum
    assert cleaned == ["yes"]
    assert signal.getsignal(signum) is before  # the previous handler is back


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:

        def body() -> int:
            os.kill(os.getpid(), signal.SIGHUP)
            return 7

        assert run_guarded("ctys", body, lambda: 0) == 7
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize("other_thread", [False, True], ids=["alone", "with-a-thread"])
def test_signals_held_during_a_cleanup_arrive_after_it(other_thread: bool) -> None:
    # With another thread that does not block the signals, the kernel delivers a signal
    # sent to the process through that thread; the hold must still keep it back.
    order: list[str] = []
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, daemon=True)
    if other_thread:
        helper.start()

    def body() -> int:
        try:
            with stop_signals_held():
                os.kill(os.getpid(), signal.SIGTERM)
                # Delivery through another thread is asynchronous: give it the time.
                time.sleep(0.2 if other_thread else 0)
                order.append("cleanup done")
        except Interrupted as exc:
            order.append(f"then {signal.Signals(exc.signum).name}")
            raise
        return 0

    try:
        assert run_guarded("ctys", body, lambda: 0) == 143
    finally:
        stop.set()
    assert order == ["cleanup done", "then SIGTERM"]


def test_stop_signals_raise_off_the_main_thread_changes_no_handler() -> None:
    """Only the main thread may set signal handlers: elsewhere the guard leaves them."""
    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def body() -> None:
        with stop_signals_raise():
            seen.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == [before]
    with stop_signals_raise():  # the main thread's guard still installs its handler
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) == before
