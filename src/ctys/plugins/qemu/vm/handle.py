"""A handle on one qemu: attach by runtime folder, launch one, or attach to a qemu ctys did
not start (``attach_foreign``: its QMP socket, its human monitor, or only signals); then
status / pause / resume / reset / reboot / shutdown(timeout) → StopResult / kill / remove.

The handle owns the VM's monitor connection (one per action, reused by every command,
closed when the ``with`` block ends), its pid, its record and its runtime folder's cleanup:
a stop that ends the VM removes the folder in its ``finally`` (logs kept, ``kept_logs``),
so no caller does.

The stop ladder is a list of ``StopStep``s (``_stop_steps``): each asks the VM to end one
way and waits; the first step after which the VM is gone names the ``StopResult``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ctys.plugins.qemu.vm import lifecycle
from ctys.plugins.qemu.vm.lifecycle import StopHow, StopResult
from ctys.plugins.qemu.vm.qmp import QmpError, QmpSession, QmpUnavailable, status_of
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import RuntimeRecord, VmRuntimeDir

QUIT_GRACE = 3.0  # seconds QEMU ``quit`` (then SIGKILL) may take
_POLL = 0.01


class Monitor(Protocol):
    """What the handle sends commands through (QMP names; ``QmpError`` when one fails)."""

    def execute(
        self,
        command: str,
        arguments: Mapping[str, object] | None = None,
        timeout: float | None = None,
    ) -> Any: ...

    def close(self) -> None: ...


class HmpMonitor:
    """A qemu's human monitor (``-monitor unix:PATH``) behind the QMP command names the
    handle uses; ``QmpUnavailable`` for a command HMP cannot do here."""

    _COMMANDS = ("system_powerdown", "quit", "stop", "cont", "system_reset")

    def __init__(self, path: Path) -> None:
        self.path = path

    def execute(
        self,
        command: str,
        arguments: Mapping[str, object] | None = None,
        timeout: float | None = None,
    ) -> Any:
        from ctys.plugins.qemu.vm.hmp import hmp_command, hmp_status

        limit = 3.0 if timeout is None else timeout
        if command == "query-status":
            return {"status": hmp_status(self.path, limit)}
        if command in self._COMMANDS and not arguments:
            return hmp_command(self.path, command, limit)
        raise QmpUnavailable(f"monitor socket {self.path}: {command} needs a QMP monitor")

    def close(self) -> None:
        """Nothing to close: each HMP command has its own connection."""


class NoMonitor:
    """A qemu that names no monitor socket: only signals reach it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def execute(
        self,
        command: str,
        arguments: Mapping[str, object] | None = None,
        timeout: float | None = None,
    ) -> Any:
        raise QmpUnavailable(f"qemu pid {self.pid} names no QMP or monitor socket")

    def close(self) -> None:
        """Nothing to close."""


@dataclasses.dataclass(frozen=True)
class StopStep:
    """One rung of the stop ladder: ``ask`` the VM to end (a ``QmpError`` or a vanished
    process only shortens the wait to ``wait_if_refused``), then wait up to ``wait``
    seconds; a VM gone by then ended by ``how``."""

    how: StopHow
    ask: Callable[[], object]
    wait: float
    wait_if_refused: float | None = None
    #: How CANCEL names the step when it did not end the VM (``StopResult.tried``); ACPI
    #: has none: its wait is already in CANCEL's note ("after the guest ignored ACPI").
    name: str = ""


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
        monitor: Monitor | None = None,
    ) -> None:
        self.pid = pid
        self.qmp = qmp
        self.rundir = rundir
        self.record = record
        self._session: Monitor = monitor if monitor is not None else QmpSession(qmp)
        self._signal_only = isinstance(monitor, NoMonitor)
        self._spawned: lifecycle.Spawned | None = None
        self.kept_logs: Path | None = (
            None  # where the logs went when this handle removed its folder
        )

    @classmethod
    def attach_foreign(cls, pid: int, *, qmp: Path | None, hmp: Path | None = None) -> VmHandle:
        """A qemu ctys did not start: through its QMP socket, else its human monitor, else
        by signals alone (SIGTERM, then SIGKILL). It has no runtime folder: nothing is
        removed when it ends."""
        if qmp is not None:
            return cls(pid, qmp)
        if hmp is not None:
            return cls(pid, hmp, monitor=HmpMonitor(hmp))
        return cls(pid, Path(os.devnull), monitor=NoMonitor(pid))

    @property
    def monitored(self) -> bool:
        """Whether a monitor (QMP or HMP) reaches this VM, not only signals."""
        return not self._signal_only

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
        foreground: bool = False,
    ) -> VmHandle:
        """Start qemu (``lifecycle.spawn``) and wait, on this handle's own QMP connection,
        until its monitor answers. ``foreground``: bound to this terminal (CONSOLE:CLI0);
        a foreground qemu that ends before its monitor answers is no error (its output is
        on the terminal; ``wait`` gives its exit status)."""
        spawned = lifecycle.spawn(argv, rundir, foreground=foreground, on_spawn=on_spawn)
        vm = cls(spawned.pid, rundir.qmp, rundir=rundir, record=rundir.read_record())
        vm._spawned = spawned
        try:
            spawned.wait_ready(vm._answers, ready_timeout, exit_ok=foreground)
        except BaseException:
            vm.close()
            raise
        return vm

    def _answers(self, deadline: float) -> bool:
        if not self.qmp.exists():
            return False
        try:
            self._execute("query-status", timeout=min(5.0, max(deadline - time.monotonic(), _POLL)))
        except QmpError:
            return False
        return True

    def wait(self) -> int:
        """Wait for a qemu this handle launched in the foreground to end; its exit status.
        Its runtime folder goes when it has ended (logs kept)."""
        assert self._spawned is not None, "wait() is for a VM this handle launched"
        self._session.close()  # the terminal's user owns the VM now: no connection held
        try:
            return self._spawned.wait()
        finally:
            self._ended()

    def __enter__(self) -> VmHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the monitor connection (the VM keeps running). A foreground launch that is
        abandoned gives this terminal's Ctrl-C back to ctys."""
        self._session.close()
        if self._spawned is not None:
            self._spawned.forget()

    def _execute(
        self, command: str, arguments: Mapping[str, object] | None = None, timeout: float = 3.0
    ) -> Any:
        return self._session.execute(command, arguments, timeout)

    def query(self, command: str, timeout: float = 3.0) -> Any:
        """Run a read-only QMP query (e.g. ``query-vnc``) on this handle's connection;
        ``QmpUnavailable`` when the monitor does not answer, ``QmpCommandFailed`` when QEMU
        refuses the command."""
        return self._execute(command, None, timeout)

    def command(
        self, command: str, arguments: Mapping[str, object] | None = None, timeout: float = 3.0
    ) -> Any:
        """Run one QMP command that changes the VM (e.g. ``migrate``) on this handle's
        connection; ``QmpCommandFailed`` when QEMU refuses it."""
        return self._execute(command, arguments, timeout)

    def hmp(self, command_line: str, timeout: float = 3.0) -> str:
        """Run a human-monitor command (``savevm S4``) through QMP; its output text (HMP
        reports a failure as text, not as an error reply)."""
        out = self._execute("human-monitor-command", {"command-line": command_line}, timeout)
        return str(out or "").strip()

    def send_fd(self, fd: int, name: str) -> None:
        """Give QEMU an open file under ``name`` (QMP ``getfd`` over SCM_RIGHTS)."""
        if not isinstance(self._session, QmpSession):
            raise QmpUnavailable(f"qemu pid {self.pid}: passing a file needs its QMP monitor")
        self._session.send_fd(fd, name)

    def alive(self) -> bool:
        """True while the qemu process runs."""
        return lifecycle.process_alive(self.pid)

    def status(self, timeout: float = 2.0) -> RunState | None:
        """The VM's run state; ``None`` when its monitor is missing or does not answer."""
        if self._signal_only or not self.qmp.exists():
            return None
        try:
            return RunState.parse(status_of(self._execute("query-status", timeout=timeout)))
        except QmpError:
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
            with contextlib.suppress(QmpError):
                self._execute("set-action", {"shutdown": "poweroff"})
        return (
            "rebooted (guest shut down, machine reset)"
            if graceful
            else "reset (guest ignored ACPI)"
        )

    def shutdown(self, timeout: float) -> StopResult:
        """Stop the VM gently: the ladder of ``poweroff`` when the guest can answer ACPI,
        else (paused, internal-error, guest-panicked, ...) ``kill`` at once, noting the
        state in ``StopResult.acpi_skipped``. A VM only signals reach gets SIGTERM (up to
        ``timeout``), then SIGKILL. A VM with a guest agent socket is asked through its
        agent first (``guest-shutdown``); ``StopResult.tried`` names the steps before."""
        if not self.alive():
            return StopResult(StopHow.GONE, 0.0)
        state = self.status()
        if state is not None and not state.answers_acpi:
            return dataclasses.replace(self.kill(), acpi_skipped=state)
        return self.poweroff(timeout)

    def poweroff(self, timeout: float) -> StopResult:
        """The guest agent's guest-shutdown (when the VM has an agent socket), the ACPI
        power button, each waiting up to ``timeout`` for the guest to power off, then QEMU
        ``quit``, then SIGTERM, then SIGKILL. A monitor that does not answer goes straight to the
        fallbacks."""
        return self._climb(self._stop_steps(timeout, acpi=True))

    def kill(self, grace: float = QUIT_GRACE) -> StopResult:
        """Stop now: QEMU ``quit`` (images flushed), then SIGTERM, then SIGKILL (only
        signals: SIGTERM, then SIGKILL)."""
        return self._climb(self._stop_steps(grace, acpi=False, grace=grace))

    def _stop_steps(
        self, timeout: float, *, acpi: bool, grace: float = QUIT_GRACE
    ) -> list[StopStep]:
        """The ladder, gentlest first (a new rung, e.g. the guest agent, goes in here)."""
        sigkill = StopStep(StopHow.KILL, lambda: self._signal(signal.SIGKILL), grace)
        if self._signal_only:
            return [StopStep(StopHow.TERM, lambda: self._signal(signal.SIGTERM), timeout), sigkill]
        from ctys.plugins.qemu.vm import qga  # (socket, json: stops load it, a launch not)

        steps: list[StopStep] = []
        agent = self.rundir.path / qga.QGA_SOCKET_NAME if self.rundir is not None else None
        if acpi and agent is not None and agent.exists():
            # The gentlest rung: the guest agent's guest-shutdown (a short wait for its
            # answer, then the whole timeout for the guest to power off).
            ask = min(qga.SHUTDOWN_ANSWER, max(timeout, 0.5))
            steps.append(
                StopStep(StopHow.AGENT, lambda: qga.shutdown(agent, timeout=ask), timeout, 0.0,
                         name="guest agent")
            )  # fmt: skip
        if acpi:
            # A guest can power off before QEMU's reply reaches us (the connection then
            # drops): the VM ending within a second means the button worked.
            powerdown = StopStep(
                StopHow.ACPI,
                lambda: self._execute("system_powerdown", timeout=min(3.0, max(timeout, 0.5))),
                timeout,
                wait_if_refused=min(timeout, 1.0),
            )
            steps.append(powerdown)
        quit_ = StopStep(StopHow.QUIT, lambda: self._execute("quit", timeout=grace), grace)
        sigterm = StopStep(StopHow.TERM, lambda: self._signal(signal.SIGTERM), grace)
        steps += [
            dataclasses.replace(quit_, name="quit"),
            dataclasses.replace(sigterm, name="SIGTERM"),
        ]
        steps.append(sigkill)
        return steps

    def _signal(self, signum: signal.Signals) -> None:
        os.kill(self.pid, signum)

    def _climb(self, steps: list[StopStep]) -> StopResult:
        """Run the ladder until the VM is gone; whatever happens, a VM that ended here has
        its runtime folder removed (``finally``)."""
        started = time.monotonic()
        if not self.alive():
            return StopResult(StopHow.GONE, 0.0)
        tried: list[str] = []
        try:
            for step in steps:
                wait, refused = step.wait, ""
                try:
                    step.ask()
                except (QmpError, ProcessLookupError) as exc:
                    wait = step.wait if step.wait_if_refused is None else step.wait_if_refused
                    refused = str(exc)
                if lifecycle.wait_exit(self.pid, wait):
                    return StopResult(step.how, time.monotonic() - started, tried=tuple(tried))
                if step.name:
                    tried.append(f"{step.name}: {refused or f'still running after {wait:g}s'}")
            return StopResult(steps[-1].how, time.monotonic() - started, tried=tuple(tried))
        finally:
            self._ended()

    def ended(self) -> bool:
        """True when the qemu this handle launched has ended by itself; its runtime folder
        then goes (logs kept, ``kept_logs``)."""
        if self.alive():
            return False
        self._ended()
        return True

    def _ended(self) -> None:
        """The VM this handle acted on is gone: its runtime folder goes (logs kept)."""
        if self.rundir is not None and not self.alive():
            self.kept_logs = self.remove()

    def remove(self) -> Path | None:
        """Close the monitor and remove the runtime folder (its logs are kept); the kept
        logs' folder, ``None`` when nothing was kept or ctys has no folder for this VM."""
        self.close()
        return self.rundir.remove() if self.rundir is not None else None
