"""The VM handle over a real-socket fake QMP monitor: run states, one connection per
action, the stop ladder (ACPI → quit → SIGKILL, ACPI skipped when the guest cannot answer)
and the runtime folder's cleanup."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ctys.argscan import parse_action
from ctys.plugins.qemu.actions.cancel import Target, cancel_target
from ctys.plugins.qemu.actions.find_running import RunningVm
from ctys.plugins.qemu.cancelreq import parse_cancel
from ctys.plugins.qemu.vm import lifecycle
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.lifecycle import StopHow
from ctys.plugins.qemu.vm.qmp import QmpCommandFailed, QmpUnavailable
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord
from support.qmpframes import JsonObjects

VERSION = {"qemu": {"micro": 0, "minor": 2, "major": 8}, "package": ""}
GREETING = {"QMP": {"version": VERSION, "capabilities": []}}


@dataclass
class FakeMonitor:
    """A QMP server on a UNIX socket that records the commands and connections it saw."""

    path: Path
    state: str = "running"
    on_command: dict[str, Callable[[], None]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    connections: int = 0

    def answer(self, name: str) -> dict[str, object]:
        self.commands.append(name)
        action = self.on_command.get(name)
        if action is not None:
            action()
        if name == "query-status":
            return {"return": {"status": self.state, "running": self.state == "running"}}
        if name == "stop":
            self.state = "paused"
        elif name == "cont":
            self.state = "running"
        elif name == "bogus":
            return {"error": {"class": "CommandNotFound", "desc": "The command bogus"}}
        return {"return": {}}


def _requests(conn: socket.socket) -> Iterator[dict[str, object]]:
    """The JSON objects the client sends (QMP does not end them with a newline)."""
    stream = JsonObjects()
    while chunk := conn.recv(4096):
        yield from stream.feed(chunk.decode())


def _serve_one(monitor: FakeMonitor, conn: socket.socket) -> None:
    with conn, contextlib.suppress(OSError):
        conn.sendall(json.dumps(GREETING).encode() + b"\n")
        for request in _requests(conn):
            name = str(request["execute"])
            reply = {"return": {}} if name == "qmp_capabilities" else monitor.answer(name)
            if "id" in request:
                reply["id"] = request["id"]
            conn.sendall(json.dumps(reply).encode() + b"\n")


@pytest.fixture
def monitor(short_tmp: Path) -> Iterator[FakeMonitor]:
    path = short_tmp / "qmp.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    fake = FakeMonitor(path)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            fake.connections += 1
            threading.Thread(target=_serve_one, args=(fake, conn), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield fake
    # Wake the acceptor and wait for it before the descriptor is closed: a thread that
    # called accept() on a closed, reused descriptor number would serve the next test's
    # socket with this test's fake.
    with contextlib.suppress(OSError):
        server.shutdown(socket.SHUT_RDWR)
    acceptor.join(timeout=5)
    server.close()


@pytest.fixture
def guest() -> Iterator[subprocess.Popen[bytes]]:
    """Stands in for the qemu process (the handle's pid)."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def _ends(proc: subprocess.Popen[bytes]) -> Callable[[], None]:
    return proc.kill


def test_status_is_a_run_state_and_one_connection_serves_the_whole_action(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes]
) -> None:
    with VmHandle(guest.pid, monitor.path) as vm:
        assert vm.status() is RunState.RUNNING
        vm.pause()
        assert vm.status() is RunState.PAUSED
        assert vm.resume_if_paused()
        assert not vm.resume_if_paused()
        vm.reset()
    assert monitor.commands == [
        "query-status",
        "stop",
        "query-status",
        "query-status",
        "cont",
        "query-status",
        "system_reset",
    ]
    assert monitor.connections == 1


@pytest.mark.parametrize(
    ("text", "state", "failed", "acpi"),
    [
        ("running", RunState.RUNNING, False, True),
        ("paused", RunState.PAUSED, False, False),
        ("internal-error", RunState.INTERNAL_ERROR, True, False),
        ("guest-panicked", RunState.GUEST_PANICKED, True, False),
        ("shutdown", RunState.SHUTDOWN, False, False),
        ("something-new", RunState.UNKNOWN, False, False),
    ],
)
def test_run_states_are_parsed_once(
    monitor: FakeMonitor, text: str, state: RunState, failed: bool, acpi: bool
) -> None:
    monitor.state = text
    with VmHandle(1, monitor.path) as vm:
        got = vm.status()
    assert got is state and got.failed is failed and got.answers_acpi is acpi


def test_a_missing_monitor_has_no_state(short_tmp: Path) -> None:
    with VmHandle(1, short_tmp / "none.sock") as vm:
        assert vm.status() is None


def test_an_error_reply_is_a_failed_command_not_a_missing_monitor(
    monitor: FakeMonitor,
) -> None:
    with VmHandle(1, monitor.path) as vm:
        with pytest.raises(QmpCommandFailed) as failed:
            vm.query("bogus")
        assert not isinstance(failed.value, QmpUnavailable)
        assert str(failed.value) == "QMP command bogus failed: The command bogus"
        assert vm.status() is RunState.RUNNING
    assert monitor.connections == 1  # the monitor works: its connection stays


def test_a_missing_monitor_is_unavailable(short_tmp: Path) -> None:
    with VmHandle(1, short_tmp / "none.sock") as vm, pytest.raises(QmpUnavailable):
        vm.query("query-vnc")


def test_shutdown_of_a_running_vm_ends_on_acpi(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes]
) -> None:
    monitor.on_command["system_powerdown"] = _ends(guest)
    with VmHandle(guest.pid, monitor.path) as vm:
        result = vm.shutdown(5.0)
    assert result.how is StopHow.ACPI and result.acpi_skipped is None
    assert monitor.commands == ["query-status", "system_powerdown"]
    assert monitor.connections == 1


@pytest.mark.parametrize("state", [RunState.PAUSED, RunState.INTERNAL_ERROR])
def test_shutdown_skips_acpi_when_the_guest_cannot_answer(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes], state: RunState
) -> None:
    monitor.state = state.value
    monitor.on_command["quit"] = _ends(guest)
    with VmHandle(guest.pid, monitor.path) as vm:
        result = vm.shutdown(30.0)
    assert result.how is StopHow.QUIT and result.acpi_skipped is state
    assert result.seconds < 3.0
    assert monitor.commands == ["query-status", "quit"]


def test_a_guest_that_ignores_acpi_is_quit(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes]
) -> None:
    monitor.on_command["quit"] = _ends(guest)
    with VmHandle(guest.pid, monitor.path) as vm:
        result = vm.shutdown(0.3)
    assert result.how is StopHow.QUIT
    assert monitor.commands == ["query-status", "system_powerdown", "quit"]


def test_a_vm_that_is_gone_is_reported_so(monitor: FakeMonitor) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    with VmHandle(proc.pid, monitor.path) as vm:
        assert vm.shutdown(5.0).how is StopHow.GONE
        assert vm.kill().how is StopHow.GONE
    assert monitor.commands == []


def test_reboot_waits_for_the_guest_then_resets_and_resumes(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes]
) -> None:
    def guest_shuts_down() -> None:
        monitor.state = "shutdown"

    def reset() -> None:
        monitor.state = "paused"

    monitor.on_command["system_powerdown"] = guest_shuts_down
    monitor.on_command["system_reset"] = reset
    with VmHandle(guest.pid, monitor.path) as vm:
        assert vm.reboot(5.0) == "rebooted (guest shut down, machine reset)"
    assert monitor.commands == [
        "set-action",
        "system_powerdown",
        "query-status",
        "system_reset",
        "query-status",
        "cont",
        "set-action",
    ]
    assert monitor.connections == 1


def test_attach_by_runtime_folder_and_remove_keeps_the_logs(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(short_tmp / "state"))
    rundir = RuntimeDir(short_tmp / "rt").create_vm_dir("h-1")
    assert VmHandle.attach(rundir) is None  # no record, no pidfile: nothing to attach to
    rundir.write_record(RuntimeRecord(vmid="h-1", label="h", conf="/c", pid=4321))
    rundir.qemu_log.write_text("qemu said\n")
    with VmHandle.attach(rundir) as vm:  # type: ignore[union-attr]
        assert (vm.pid, vm.qmp, vm.rundir) == (4321, rundir.qmp, rundir)
        assert vm.record is not None and vm.record.label == "h"
        kept = vm.remove()
    assert not rundir.path.exists()
    assert kept is not None and (kept / "qemu.log").read_text() == "qemu said\n"


def test_a_foreign_handle_removes_nothing(short_tmp: Path) -> None:
    with VmHandle(1, short_tmp / "q.sock") as vm:
        assert vm.remove() is None


def test_cancel_of_a_paused_managed_vm_uses_one_connection_and_removes_its_folder(
    monitor: FakeMonitor,
    guest: subprocess.Popen[bytes],
    short_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(short_tmp / "state"))
    rundir = RuntimeDir(short_tmp / "rt").create_vm_dir("p-1")
    record = RuntimeRecord(vmid="p-1", label="p", conf="/c", pid=guest.pid)
    rundir.write_record(record)
    monitor.state = "paused"
    monitor.on_command["quit"] = _ends(guest)
    target = Target("p", guest.pid, monitor.path, running=RunningVm(rundir, record, guest.pid))
    outcome = cancel_target(target, parse_cancel(parse_action("CANCEL=ALL,TIMEOUT:30")))
    assert outcome.message.startswith("stopped by QEMU quit; ACPI skipped: the VM is paused (")
    assert monitor.commands == ["query-status", "quit"] and monitor.connections == 1
    assert not rundir.path.exists()


def test_the_handle_that_ends_a_vm_removes_its_folder_and_keeps_the_logs(
    monitor: FakeMonitor,
    guest: subprocess.Popen[bytes],
    short_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(short_tmp / "state"))
    rundir = RuntimeDir(short_tmp / "rt").create_vm_dir("a-1")
    rundir.qemu_log.write_text("booted\n")
    monitor.on_command["system_powerdown"] = _ends(guest)
    with VmHandle(guest.pid, monitor.path, rundir=rundir) as vm:
        result = vm.shutdown(5.0)
        assert vm.kept_logs is not None and (vm.kept_logs / "qemu.log").read_text() == "booted\n"
    assert result.how is StopHow.ACPI
    assert not rundir.path.exists()


def test_a_vm_that_was_already_gone_keeps_its_folder(short_tmp: Path) -> None:
    # Gone before this handle acted: the folder may be a new start's already (the stale
    # rule of the runtime scan decides about it, not a stop that did nothing).
    rundir = RuntimeDir(short_tmp / "rt").create_vm_dir("g-1")
    dead = subprocess.Popen(["true"])
    dead.wait()
    with VmHandle(dead.pid, rundir.qmp, rundir=rundir) as vm:
        assert vm.shutdown(1.0).how is StopHow.GONE
    assert rundir.path.exists()


def test_a_foreign_qemu_with_only_a_human_monitor_climbs_the_same_ladder(
    short_tmp: Path, guest: subprocess.Popen[bytes]
) -> None:
    from ctys.plugins.qemu.vm import hmp

    seen: list[str] = []
    (short_tmp / "mon").touch()

    def fake_hmp(path: Path, command: str, timeout: float = 3.0) -> str:
        seen.append(command)
        if command == "info status":
            return "VM status: running"
        if command == "quit":
            guest.kill()
        return ""

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hmp, "hmp_command", fake_hmp)
        with VmHandle.attach_foreign(guest.pid, qmp=None, hmp=short_tmp / "mon") as vm:
            result = vm.shutdown(0.3)
    assert result.how is StopHow.QUIT
    assert seen == ["info status", "system_powerdown", "quit"]


def test_a_foreign_qemu_without_a_monitor_gets_sigterm_then_sigkill(
    guest: subprocess.Popen[bytes],
) -> None:
    with VmHandle.attach_foreign(guest.pid, qmp=None) as vm:
        assert not vm.monitored and vm.status() is None
        result = vm.kill()
    assert result.how is StopHow.TERM


def test_launch_waits_for_the_monitor_on_the_connection_the_handle_keeps(
    monitor: FakeMonitor, short_tmp: Path
) -> None:
    # QEMU serves one QMP client at a time: the readiness wait, the VNC password and the
    # start checks share one connection.
    from ctys.plugins.qemu.vm.runtime import VmRuntimeDir

    vm = VmHandle.launch(["sleep", "30"], VmRuntimeDir(short_tmp), ready_timeout=5)
    try:
        with vm:
            vm.set_vnc_password("pw")
            assert vm.status() is RunState.RUNNING
        assert monitor.commands == ["query-status", "change-vnc-password", "query-status"]
        assert monitor.connections == 1
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(vm.pid, signal.SIGKILL)
        os.waitpid(vm.pid, 0)


def test_a_foreground_launch_gives_ctrl_c_back_when_it_fails_or_ends(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(short_tmp / "state"))
    runtime = RuntimeDir(short_tmp / "rt")
    before = signal.getsignal(signal.SIGINT)
    rundir = runtime.create_vm_dir("fg-1")
    with pytest.raises(lifecycle.VmError, match="did not open its monitor"):
        VmHandle.launch(["sleep", "30"], rundir, ready_timeout=0.2, foreground=True)
    assert signal.getsignal(signal.SIGINT) is before
    # A foreground qemu that ends before its monitor answers is no error (its output is on
    # the terminal): wait() gives its exit status and the folder goes.
    rundir = runtime.create_vm_dir("fg-2")
    vm = VmHandle.launch(["sh", "-c", "exit 3"], rundir, ready_timeout=5, foreground=True)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # Ctrl-C is the guest's
    assert vm.wait() == 3
    assert signal.getsignal(signal.SIGINT) is before
    assert not rundir.path.exists()


@pytest.fixture
def stubborn() -> Iterator[subprocess.Popen[bytes]]:
    """A stand-in qemu that ignores SIGTERM (only SIGKILL ends it)."""
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(0.3)  # the handler is set before the ladder reaches SIGTERM
    yield proc
    proc.kill()
    proc.wait()


def test_a_qemu_that_ignores_quit_gets_sigterm_then_sigkill(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes], stubborn: subprocess.Popen[bytes]
) -> None:
    with VmHandle(guest.pid, monitor.path) as vm:
        result = vm.kill(grace=0.3)
    assert result.how is StopHow.TERM
    assert result.tried == ("quit: still running after 0.3s",)
    with VmHandle(stubborn.pid, monitor.path) as vm:
        result = vm.kill(grace=0.3)
    assert result.how is StopHow.KILL
    assert result.tried == (
        "quit: still running after 0.3s",
        "SIGTERM: still running after 0.3s",
    )
    assert not lifecycle.process_alive(stubborn.pid)


class FakeAgent:
    """A guest agent on a UNIX socket: answers guest-sync; ``on_shutdown`` runs on
    guest-shutdown (which, as the real agent, gets no reply unless ``error`` is set)."""

    def __init__(self, path: Path, on_shutdown: Callable[[], None], error: bool = False) -> None:
        self.commands: list[object] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.thread = threading.Thread(target=self._serve, args=(on_shutdown, error), daemon=True)
        self.thread.start()

    def _serve(self, on_shutdown: Callable[[], None], error: bool) -> None:
        conn, _ = self.server.accept()
        with conn, contextlib.suppress(OSError):
            for line in conn.makefile("rb"):
                request = json.loads(line)
                self.commands.append(request)
                if request["execute"] == "guest-sync":
                    reply = {"return": request["arguments"]["id"]}
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                elif request["execute"] == "guest-shutdown":
                    if error:
                        conn.sendall(b'{"error": {"class": "GenericError", "desc": "no"}}\n')
                    else:
                        on_shutdown()

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


def _rundir_with_agent(short_tmp: Path) -> tuple[RuntimeDir, Path]:
    runtime = RuntimeDir(short_tmp / "rt")
    vmdir = runtime.create_vm_dir("ga")
    return runtime, vmdir.path / "qga.sock"


def test_shutdown_asks_the_guest_agent_first(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes], short_tmp: Path
) -> None:
    runtime, sock = _rundir_with_agent(short_tmp)
    agent = FakeAgent(sock, guest.kill)
    with VmHandle(guest.pid, monitor.path, rundir=runtime.vm("ga")) as vm:
        result = vm.shutdown(5.0)
    agent.close()
    assert result.how is StopHow.AGENT
    assert result.tried == ()
    assert [c["execute"] for c in agent.commands] == ["guest-sync", "guest-shutdown"]  # type: ignore[index]
    assert agent.commands[1] == {"execute": "guest-shutdown", "arguments": {"mode": "powerdown"}}
    assert monitor.commands == ["query-status"]  # no ACPI needed


def test_an_agent_that_refuses_is_reported_and_acpi_follows(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes], short_tmp: Path
) -> None:
    runtime, sock = _rundir_with_agent(short_tmp)
    agent = FakeAgent(sock, lambda: None, error=True)
    monitor.on_command["system_powerdown"] = _ends(guest)
    with VmHandle(guest.pid, monitor.path, rundir=runtime.vm("ga")) as vm:
        result = vm.shutdown(5.0)
    agent.close()
    assert result.how is StopHow.ACPI
    assert result.tried == ("guest agent: refused: no",)
    assert monitor.commands == ["query-status", "system_powerdown"]


def test_a_silent_agent_costs_its_short_timeout_then_acpi(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes], short_tmp: Path
) -> None:
    runtime, sock = _rundir_with_agent(short_tmp)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock))
    server.listen()  # qemu's end of the port with no agent in the guest
    monitor.on_command["system_powerdown"] = _ends(guest)
    started = time.monotonic()
    with server, VmHandle(guest.pid, monitor.path, rundir=runtime.vm("ga")) as vm:
        result = vm.shutdown(20.0)
    assert time.monotonic() - started < 5.0
    assert result.how is StopHow.ACPI
    assert result.tried == ("guest agent: no answer in 2s",)


def test_cancel_reports_the_steps_tried_first(
    monitor: FakeMonitor, guest: subprocess.Popen[bytes], short_tmp: Path
) -> None:
    runtime, sock = _rundir_with_agent(short_tmp)
    agent = FakeAgent(sock, lambda: None, error=True)
    vmdir = runtime.vm("ga")
    record = RuntimeRecord(vmid="ga", label="ga", conf="", pid=guest.pid)
    vmdir.write_record(record)
    monitor.on_command["system_powerdown"] = _ends(guest)
    target = Target("ga", guest.pid, monitor.path, running=RunningVm(vmdir, record, guest.pid))
    outcome = cancel_target(target, parse_cancel(parse_action("CANCEL=ALL,TIMEOUT:5")))
    agent.close()
    assert outcome.message.startswith("powered off by the guest (ACPI) (")
    assert outcome.message.endswith("s); tried first: guest agent: refused: no")


def _resume(runtime: RuntimeDir, label: str) -> tuple[int, str]:
    import io

    from ctys.address.model import AddressKind, MachineAddress, MachineSelector
    from ctys.invocation import Invocation
    from ctys.plugins.base import RunContext
    from ctys.plugins.qemu.actions.resume import run_resume
    from ctys.plugins.qemu.requests import CreateRequest

    out, err = io.StringIO(), io.StringIO()
    req = CreateRequest(MachineSelector((MachineAddress(AddressKind.LABEL, label),)), resume=True)
    code = run_resume(req, runtime, None, RunContext(Invocation(), out, err))
    return code, out.getvalue()


def test_resume_continues_a_paused_vm_and_attaches_nothing(
    monitor: FakeMonitor,
    guest: subprocess.Popen[bytes],
    short_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ctys.plugins.qemu.vm import runtime as runtime_mod
    from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
    from ctys.plugins.qemu.vm.processes import QemuProcess

    qemu = QemuProcess(guest.pid, "me", 0.0, parse_qemu_cmdline(["qemu-system-x86_64"]))
    monkeypatch.setattr(
        runtime_mod,
        "living_qemu",
        lambda pid, rundir, snapshot=None: qemu if pid == guest.pid else None,
    )
    runtime = RuntimeDir(short_tmp / "rt")
    vmdir = runtime.create_vm_dir("pz")
    (vmdir.path / "qmp.sock").symlink_to(monitor.path)
    vmdir.write_record(RuntimeRecord(vmid="pz", label="pz", conf="", pid=guest.pid))
    monitor.state = "paused"
    assert _resume(runtime, "pz") == (0, "pz: resumed\n")
    assert monitor.commands == ["query-status", "cont"]
    assert _resume(runtime, "pz") == (0, "pz: not paused (running), nothing to resume\n")
    assert monitor.commands[-1] == "query-status"


def test_resume_of_a_vm_that_is_not_running_is_one_error_and_boots_nothing(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctys.errors import VmStateError
    from ctys.plugins.qemu.actions import resume
    from ctys.plugins.qemu.vmconfig import VmConfig

    vm = VmConfig(conf_path=short_tmp / "off" / "off.conf", label="off")
    monkeypatch.setattr(resume, "find_running", lambda *a: (None, vm))
    with pytest.raises(VmStateError, match=r"^VM off is not running and has no saved state"):
        _resume(RuntimeDir(short_tmp / "rt"), "off")
