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

from ctys.errors import VmError
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir

POLL = 0.01


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (zombies count as gone)."""
    from ctys.plugins.qemu.vm.processes import process_running

    _reap(pid)
    return process_running(pid)


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


class Spawned:
    """A qemu just started: daemon-style (its own session, output in ``qemu.log``) or
    bound to this terminal (CONSOLE:CLI0: the terminal's Ctrl-C must reach the guest, not
    kill ctys before qemu, so SIGINT is ignored here until ``wait`` or ``forget``)."""

    def __init__(self, argv: list[str], log: Path | None) -> None:
        self.log = log
        self._previous_sigint: object = None
        if log is None:
            self._previous_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.proc = _popen(argv, log)
        except BaseException:
            self.forget()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(
        self, answers: Callable[[float], bool], ready_timeout: float, *, exit_ok: bool = False
    ) -> None:
        """Wait until ``answers(deadline)`` says the QMP monitor runs commands. A qemu that
        exits first is a ``VmError`` carrying its last error line (with ``exit_ok``, a
        foreground qemu, whose output is on the terminal, just ended: no error)."""
        deadline = time.monotonic() + ready_timeout
        # QEMU opens its monitor socket (and greets on it) early and sets up the rest, e.g.
        # a VNC port that may be taken, afterwards; it runs commands only once that is
        # done. So an answer, not the socket file, says the start worked.
        while not answers(deadline):
            code = self.proc.poll()
            if code is not None:
                if exit_ok:
                    return
                detail = (_log_tail(self.log) if self.log else "") or f"exit status {code}"
                raise VmError(f"qemu failed to start: {detail}")
            if time.monotonic() >= deadline:
                self.proc.kill()
                self.proc.wait()
                raise VmError(f"qemu did not open its monitor within {ready_timeout:g}s")
            time.sleep(POLL)

    def wait(self) -> int:
        """Wait for qemu to end; its exit status."""
        try:
            return self.proc.wait()
        finally:
            self.forget()

    def forget(self) -> None:
        """Give this terminal's Ctrl-C back to ctys (a foreground qemu)."""
        previous, self._previous_sigint = self._previous_sigint, None
        if previous is not None:
            signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]


def _popen(argv: list[str], log: Path | None) -> subprocess.Popen[bytes]:
    try:
        if log is None:
            # Sockets and logs qemu creates are the user's alone (0600), whatever the umask.
            return subprocess.Popen(argv, umask=0o077)
        out = os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                umask=0o077,
            )
        finally:
            out.close()
    except OSError as exc:
        raise VmError(f"cannot run {argv[0]}: {exc.strerror}") from exc


def spawn(
    argv: list[str],
    rundir: VmRuntimeDir,
    *,
    foreground: bool = False,
    on_spawn: Callable[[int], None] | None = None,
) -> Spawned:
    """Start qemu: in its own session with stdout/stderr in ``qemu.log``, or (``foreground``)
    bound to this terminal. ``on_spawn`` learns the pid as soon as qemu exists, so whoever
    cleans up after an interrupt during the wait knows what to stop."""
    spawned = Spawned(argv, None if foreground else rundir.qemu_log)
    if on_spawn is not None:
        on_spawn(spawned.pid)
    return spawned


class StopHow(Enum):
    """How a VM ended in CANCEL."""

    AGENT = "powered off by the guest agent (guest-shutdown)"
    ACPI = "powered off by the guest (ACPI)"
    QUIT = "stopped by QEMU quit"
    TERM = "stopped by SIGTERM"
    KILL = "killed (SIGKILL)"
    GONE = "was not running"


@dataclass(frozen=True)
class StopResult:
    """How a VM ended, after how many seconds, the run state that made the stop skip
    ACPI (``None`` when ACPI was tried or not asked for), and the steps tried before."""

    how: StopHow
    seconds: float
    acpi_skipped: RunState | None = None
    #: Steps of the ladder tried before the one that stopped it, with what happened
    #: (``guest agent: no answer in 2s``, ``quit: still running after 3s``).
    tried: tuple[str, ...] = ()

    def describe(self, note: str = "") -> str:
        """What CANCEL prints: the step that ended the VM, ``note`` (why that step), the
        seconds it took, the steps tried before it; ``was not running`` alone for a VM
        that was gone."""
        if self.how is StopHow.GONE:
            return str(self.how.value)
        tried = f"; tried first: {', '.join(self.tried)}" if self.tried else ""
        return f"{self.how.value}{note} ({self.seconds:.1f}s){tried}"
