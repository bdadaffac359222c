"""A handle on one managed qemu: attach by runtime folder or launch, then status / pause /
resume / reset / reboot / shutdown(timeout) → StopResult / kill / remove.

The handle owns the VM's QMP connection (one per action, reused by every command, closed
when the ``with`` block ends), its pid, its record and its runtime folder's cleanup.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ctys.plugins.qemu.vm import lifecycle, qga
from ctys.plugins.qemu.vm.lifecycle import StopHow, StopResult
from ctys.plugins.qemu.vm.qmp import QmpSession, QmpUnavailable, status_of
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import RuntimeRecord, VmRuntimeDir

QUIT_GRACE = 3.0  # seconds QEMU ``quit`` (then SIGKILL) may take


class VmHandle:
    """One qemu process with a QMP monitor at ``qmp`` (and, when ctys started it, its
    runtime folder and record). Use it in a ``with`` block: the connection closes at its
    end whatever happens."""

    def __init__(
        self,
        pid: int,
        qmp: Path,
        *,
        rundir: VmRuntimeDir | None = None,
        record: RuntimeRecord | None = None,
    ) -> None:
        self.pid = pid
        self.qmp = qmp
        self.rundir = rundir
        self.record = record
        self._session = QmpSession(qmp)

    @classmethod
    def attach(cls, rundir: VmRuntimeDir) -> VmHandle | None:
        """The VM whose runtime folder is ``rundir``; ``None`` when no pid is known."""
        record = rundir.read_record()
        pid = (record.pid if record else None) or rundir.read_pid()
        if pid is None:
            return None
        return cls(pid, rundir.qmp, rundir=rundir, record=record)

    @classmethod
    def launch(
        cls,
        argv: list[str],
        rundir: VmRuntimeDir,
        *,
        ready_timeout: float = 30.0,
        on_spawn: Callable[[int], None] | None = None,
    ) -> VmHandle:
        """Start qemu (``lifecycle.launch``: its monitor answers when this returns)."""
        pid = lifecycle.launch(argv, rundir, ready_timeout=ready_timeout, on_spawn=on_spawn)
        return cls(pid, rundir.qmp, rundir=rundir, record=rundir.read_record())

    def __enter__(self) -> VmHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the QMP connection (the VM keeps running)."""
        self._session.close()

    def _execute(
        self, command: str, arguments: Mapping[str, object] | None = None, timeout: float = 3.0
    ) -> Any:
        return self._session.execute(command, arguments, timeout)

    def query(self, command: str, timeout: float = 3.0) -> Any:
        """Run a read-only QMP query (e.g. ``query-vnc``) on this handle's connection;
        ``QmpUnavailable`` when the monitor does not answer."""
        return self._execute(command, None, timeout)

    def alive(self) -> bool:
        """True while the qemu process runs."""
        return lifecycle.process_alive(self.pid)

    def status(self, timeout: float = 2.0) -> RunState | None:
        """The VM's run state; ``None`` when its monitor is missing or does not answer."""
        if not self.qmp.exists():
            return None
        try:
            return RunState.parse(status_of(self._execute("query-status", timeout=timeout)))
        except QmpUnavailable:
            return None

    def pause(self) -> None:
        """Stop the vCPUs (QMP ``stop``)."""
        self._execute("stop")

    def resume(self) -> None:
        """Let the vCPUs run again (QMP ``cont``)."""
        self._execute("cont")

    def resume_if_paused(self) -> bool:
        """``resume()`` a paused VM; True when it was paused."""
        if self.status(timeout=3.0) is not RunState.PAUSED:
            return False
        self.resume()
        return True

    def reset(self) -> None:
        """Hard reset of the machine (QMP ``system_reset``)."""
        self._execute("system_reset")

    def set_vnc_password(self, password: str) -> None:
        """The password the VNC server asks for."""
        self._execute("change-vnc-password", {"password": password})

    def reboot(self, timeout: float) -> str:
        """Graceful reboot: the guest shuts down on the ACPI button while QEMU is told to
        pause instead of exiting; then the machine is reset and resumed. Falls back to a
        hard reset when the guest does not react within ``timeout``."""
        self._execute("set-action", {"shutdown": "pause"})
        try:
            self._execute("system_powerdown")
            deadline = time.monotonic() + timeout
            graceful = False
            while time.monotonic() < deadline:
                if self.status(timeout=3.0) in (RunState.SHUTDOWN, RunState.PAUSED):
                    graceful = True
                    break
                time.sleep(0.1)
            self.reset()
            if self.status(timeout=3.0) is not RunState.RUNNING:
                self.resume()
        finally:
            with contextlib.suppress(QmpUnavailable):
                self._execute("set-action", {"shutdown": "poweroff"})
        return (
            "rebooted (guest shut down, machine reset)"
            if graceful
            else "reset (guest ignored ACPI)"
        )

    def shutdown(self, timeout: float) -> StopResult:
        """Stop the VM gently: the ladder of ``poweroff`` when the guest can answer ACPI,
        else (paused, internal-error, guest-panicked, ...) ``kill`` at once, noting the
        state in ``StopResult.acpi_skipped``. A VM with a guest agent socket is first
        asked through its agent (``guest-shutdown``), ``timeout`` covering both waits."""
        if not self.alive():
            return StopResult(StopHow.GONE, 0.0)
        state = self.status()
        if state is not None and not state.answers_acpi:
            return dataclasses.replace(self.kill(), acpi_skipped=state)
        started = time.monotonic()
        tried = self._agent_shutdown(timeout)
        if tried is None:
            return StopResult(StopHow.AGENT, time.monotonic() - started)
        left = max(timeout - (time.monotonic() - started), 1.0) if tried else timeout
        result = self.poweroff(left)
        return dataclasses.replace(
            result, seconds=time.monotonic() - started, tried=(*tried, *result.tried)
        )

    def _agent_shutdown(self, timeout: float) -> tuple[str, ...] | None:
        """The agent step: ``None`` when the guest powered off through it, else what was
        tried (nothing when the VM has no agent socket)."""
        sock = self.rundir.path / qga.QGA_SOCKET_NAME if self.rundir is not None else None
        if sock is None or not sock.exists():
            return ()
        refused = qga.request_shutdown(sock, timeout=min(qga.SHUTDOWN_ANSWER, timeout))
        if refused is not None:
            return (f"guest agent: {refused}",)
        if lifecycle.wait_exit(self.pid, timeout):
            return None
        return (f"guest agent: took guest-shutdown, still running after {timeout:g}s",)

    def poweroff(self, timeout: float) -> StopResult:
        """ACPI power button, wait up to ``timeout`` for the guest to power off, then QEMU
        ``quit``, then SIGKILL. A monitor that does not answer goes straight to the
        fallbacks."""
        started = time.monotonic()
        if not self.alive():
            return StopResult(StopHow.GONE, 0.0)
        try:
            self._execute("system_powerdown", timeout=min(3.0, max(timeout, 0.5)))
        except QmpUnavailable:
            # A guest can power off before QEMU's reply reaches us (the connection then
            # drops): the VM ending right away means the button worked.
            if lifecycle.wait_exit(self.pid, min(timeout, 1.0)):
                return StopResult(StopHow.ACPI, time.monotonic() - started)
            return self._quit_then_kill(started, QUIT_GRACE)
        if lifecycle.wait_exit(self.pid, timeout):
            return StopResult(StopHow.ACPI, time.monotonic() - started)
        return self._quit_then_kill(started, QUIT_GRACE)

    def kill(self, grace: float = QUIT_GRACE) -> StopResult:
        """Stop now: QEMU ``quit`` (images flushed), SIGKILL when that does not work."""
        started = time.monotonic()
        if not self.alive():
            return StopResult(StopHow.GONE, 0.0)
        return self._quit_then_kill(started, grace)

    def _quit_then_kill(self, started: float, grace: float) -> StopResult:
        """QEMU ``quit``, then SIGTERM (QEMU exits cleanly on it), then SIGKILL."""
        with contextlib.suppress(QmpUnavailable):
            self._execute("quit", timeout=grace)
        if lifecycle.wait_exit(self.pid, grace):
            return StopResult(StopHow.QUIT, time.monotonic() - started)
        tried = [f"quit: still running after {grace:g}s"]
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        if lifecycle.wait_exit(self.pid, grace):
            return StopResult(StopHow.TERM, time.monotonic() - started, tried=tuple(tried))
        tried.append(f"SIGTERM: still running after {grace:g}s")
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        lifecycle.wait_exit(self.pid, grace)
        return StopResult(StopHow.KILL, time.monotonic() - started, tried=tuple(tried))

    def remove(self) -> Path | None:
        """Close the monitor and remove the runtime folder (its logs are kept); the kept
        logs' folder, ``None`` when nothing was kept or ctys has no folder for this VM."""
        self.close()
        return self.rundir.remove() if self.rundir is not None else None
