"""What CREATE owes the qemu it is starting when the start does not complete.

Between ``Popen`` and the pid landing in the runtime record a qemu exists that no record
names yet; qemu runs in its own session, so the Ctrl-C (or SIGTERM/SIGHUP, raised as
``Interrupted``) that ends ctys does not end it. ``StartGuard`` knows that qemu (the pid
from ``VmHandle.launch``'s spawn callback, else any process whose argv names the VM's fresh
runtime folder) and, when the start is abandoned, stops it, keeps its logs, removes the
folder and says in one line what it did.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import TextIO

from ctys.errors import CtysError, VmError
from ctys.plugins.qemu.vm import lifecycle
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runlogs import shown
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir
from ctys.stopsignals import stop_signals_held
from ctys.textescape import one_line

_LATE_EXEC = 0.3  # seconds a child forked just before the interrupt may take to exec


class StartGuard:
    """The qemu one CREATE is starting in ``rundir``, until it is fully managed."""

    def __init__(self, rundir: VmRuntimeDir) -> None:
        self.rundir = rundir
        self.pid = 0

    def spawned(self, pid: int) -> None:
        """``VmHandle.launch`` calls this right after ``Popen``, before it waits."""
        self.pid = pid

    def _ours(self) -> set[int]:
        """Living processes started for this runtime folder (it is fresh: whatever names
        it in its argv is the qemu of this start)."""
        import psutil  # an abandoned start only: CREATE -n and a start that completes skip it

        pidfile = str(self.rundir.pidfile)
        pids = {self.pid} if self.pid and lifecycle.process_alive(self.pid) else set()
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                cmd = proc.info.get("cmdline") or []
                if pidfile in cmd[1:] and lifecycle.process_alive(proc.pid):
                    pids.add(proc.pid)
        return pids

    def _stop_all(self, interrupted: bool) -> list[int]:
        stopped: list[int] = []
        deadline = time.monotonic() + (_LATE_EXEC if interrupted and not self.pid else 0)
        while True:
            for pid in sorted(self._ours() - set(stopped)):
                with VmHandle(pid, self.rundir.qmp) as vm:
                    vm.kill()
                stopped.append(pid)
            if stopped or time.monotonic() >= deadline:
                return stopped
            time.sleep(0.02)

    def abort(self, exc: BaseException, err: TextIO | None = None) -> None:
        """Undo the start after ``exc``: stop its qemu, keep the logs, remove the folder,
        then re-raise ``exc`` (a ``VmError`` naming the kept qemu.log)."""
        interrupted = not isinstance(exc, CtysError)
        # A second Ctrl-C must not cut the cleanup (or its report) short; one that came
        # meanwhile is raised when the block ends.
        with stop_signals_held():
            stopped = self._stop_all(interrupted)
            kept = self.rundir.remove()
            if interrupted:
                what = (
                    f"stopped the qemu it had started (pid {', '.join(map(str, stopped))})"
                    if stopped
                    else "no qemu was left running"
                )
                cause = "interrupted" if isinstance(exc, KeyboardInterrupt) else "CREATE failed"
                print(f"ctys: {cause}; {what}", file=err or sys.stderr, flush=True)
        if interrupted:
            raise exc
        hint = log_hint(kept)
        if isinstance(exc, VmError) and hint:
            raise VmError(f"{exc}{hint}") from exc
        raise exc


def managed_note(label: str, pid: int | None) -> str:
    """The line for an interrupt after the start completed: the VM stays, managed."""
    return one_line(
        f"ctys: interrupted; {label} keeps running, managed by ctys"
        f" (pid {pid}; CANCEL=l:{label} stops it)"
    )


def log_hint(rundir_logs: Path | None) -> str:
    """`` (see ~/.../qemu.log)`` for a message, or nothing when no log was kept."""
    if rundir_logs is None or not (rundir_logs / "qemu.log").exists():
        return ""
    return f" (see {shown(rundir_logs / 'qemu.log')})"
