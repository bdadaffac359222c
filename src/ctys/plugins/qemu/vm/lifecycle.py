"""Process-level steps of a qemu's lifecycle: launch until the monitor answers, run in the
foreground, wait for the exit. The VM object built on them is ``vm.handle.VmHandle``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import psutil

from ctys.errors import VmError
from ctys.plugins.qemu.vm.qmp import QmpUnavailable, query_status
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir

POLL = 0.01


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (zombies count as gone)."""
    _reap(pid)
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end; True when it did."""
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _log_tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return " | ".join(text.splitlines()[-lines:])


def _answers(qmp: Path, deadline: float) -> bool:
    """True when the QMP monitor at ``qmp`` runs a command (waiting at most 5 s)."""
    if not qmp.exists():
        return False
    try:
        query_status(qmp, timeout=min(5.0, max(deadline - time.monotonic(), POLL)))
    except QmpUnavailable:
        return False
    return True


def launch(
    argv: list[str],
    rundir: VmRuntimeDir,
    *,
    ready_timeout: float = 30.0,
    on_spawn: Callable[[int], None] | None = None,
) -> int:
    """Start qemu in its own session with stdout/stderr in ``qemu.log`` and wait until its
    QMP monitor answers. Returns the pid; a qemu that exits early is a ``VmError`` carrying
    its last error line. ``on_spawn`` learns the pid as soon as qemu exists, so whoever
    cleans up after an interrupt during the wait knows what to stop."""
    log = os.fdopen(os.open(rundir.qemu_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            # Sockets and logs qemu creates are the user's alone (0600), whatever the umask.
            umask=0o077,
        )
    except OSError as exc:
        raise VmError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    finally:
        log.close()
    if on_spawn is not None:
        on_spawn(proc.pid)
    deadline = time.monotonic() + ready_timeout
    # QEMU opens its monitor socket (and greets on it) early and sets up the rest, e.g. a
    # VNC port that may be taken, afterwards; it runs commands only once that is done. So
    # an answer, not the socket file, says the start worked.
    while not _answers(rundir.qmp, deadline):
        code = proc.poll()
        if code is not None:
            detail = _log_tail(rundir.qemu_log) or f"exit status {code}"
            raise VmError(f"qemu failed to start: {detail}")
        if time.monotonic() >= deadline:
            proc.kill()
            proc.wait()
            raise VmError(f"qemu did not open its monitor within {ready_timeout:g}s")
        time.sleep(POLL)
    return proc.pid


def run_foreground(argv: list[str]) -> int:
    """Run qemu bound to the calling terminal (CONSOLE:CLI0) and return its exit status."""
    try:
        # The terminal's Ctrl-C must reach the guest, not kill us before qemu.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return subprocess.call(argv, umask=0o077)
        finally:
            signal.signal(signal.SIGINT, previous)
    except OSError as exc:
        raise VmError(f"cannot run {argv[0]}: {exc.strerror}") from exc


class StopHow(Enum):
    """How a VM ended in CANCEL."""

    ACPI = "powered off by the guest (ACPI)"
    QUIT = "stopped by QEMU quit"
    TERM = "stopped by SIGTERM"
    KILL = "killed"
    GONE = "was not running"


@dataclass(frozen=True)
class StopResult:
    """How a VM ended, after how many seconds, and the run state that made the stop skip
    ACPI (``None`` when ACPI was tried or not asked for)."""

    how: StopHow
    seconds: float
    acpi_skipped: RunState | None = None
