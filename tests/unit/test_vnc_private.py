"""The VNC server is private by default (a UNIX socket in the VM's 0700 folder); a TCP port
only when asked for, and then always with a password. LIST shows where it really listens.
QMP is faked; nothing here starts qemu."""

from __future__ import annotations

import stat
import string
from pathlib import Path
from typing import Any

import pytest

import ctys.plugins.qemu.vnc as vnc
import ctys.plugins.qemu.vncaddr as vncaddr
from ctys.address.model import MachineSelector
from ctys.consoles.kinds import ConsoleKind
from ctys.plugins.qemu.requests import CreateRequest
from ctys.plugins.qemu.vm.cmdline import VncSpec, parse_qemu_cmdline
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.processes import QemuProcess
from ctys.plugins.qemu.vm.qmp import QmpUnavailable
from ctys.plugins.qemu.vm.runtime import RuntimeRecord, VmRuntimeDir
from ctys.plugins.qemu.vmconfig import VmConfig


def vm(**kw: object) -> VmConfig:
    return VmConfig(conf_path=Path("/vms/a/a.conf"), label="a", **kw)


def req(**kw: object) -> CreateRequest:
    return CreateRequest(selector=MachineSelector(()), **kw)


@pytest.fixture
def rundir(tmp_path: Path) -> VmRuntimeDir:
    folder = tmp_path / "a-1234"
    folder.mkdir(mode=0o700)
    return VmRuntimeDir(folder)


@pytest.fixture
def qmp(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``query-vnc`` answers by socket path; other paths raise QmpUnavailable."""
    answers: dict[str, Any] = {}
    asked: list[str] = []

    def fake(vm: VmHandle, command: str, timeout: float = 3.0) -> Any:
        assert command == "query-vnc"
        path = vm.qmp
        asked.append(str(path))
        if str(path) not in answers:
            raise QmpUnavailable(f"QMP socket {path}: refused")
        return answers[str(path)]

    # Every query goes through a VmHandle (one QMP connection per action).
    monkeypatch.setattr(VmHandle, "query", fake)
    answers["_asked"] = asked
    return answers


def _Handle(qmp: Path) -> VmHandle:
    return VmHandle(1, qmp)


# --- socket or TCP ----------------------------------------------------------------------


def test_tcp_only_when_asked_for() -> None:
    assert vnc.tcp_listen(vm(), req()) is None  # the private socket
    assert vnc.tcp_listen(vm(), req(vnc_listen="::1")) == "::1"
    assert vnc.tcp_listen(vm(vncport=5905), req()) == "127.0.0.1"
    assert vnc.tcp_listen(vm(vncport=5905), req(vnc_listen="0.0.0.0")) == "0.0.0.0"


def test_tcp_port_gets_a_generated_password_kept_0600(rundir: VmRuntimeDir) -> None:
    secret = vnc.vnc_password(vm(), req(vnc_listen="127.0.0.1"), rundir, None)
    assert secret is not None and len(secret) == 8
    assert set(secret) <= set(string.ascii_letters + string.digits)
    assert rundir.vnc_password.read_text() == secret + "\n"
    assert stat.S_IMODE(rundir.vnc_password.stat().st_mode) == 0o600
    assert vnc.read_generated_password(rundir) == secret
    rundir.vnc_password.unlink()
    again = vnc.vnc_password(vm(vncport=5905), req(), rundir, None)
    assert again is not None and again != secret  # random, not a constant


def test_socket_has_no_password_unless_vncpass_and_vncpass_is_not_stored(
    rundir: VmRuntimeDir,
) -> None:
    assert vnc.vnc_password(vm(), req(), rundir, None) is None
    assert vnc.vnc_password(vm(), req(vnc_listen="127.0.0.1"), rundir, "given") == "given"
    assert vnc.vnc_password(vm(), req(), rundir, "given") == "given"
    assert not rundir.vnc_password.exists()
    # CLI0 has no VNC server: nothing to protect, no file.
    assert vnc.vnc_password(vm(vncport=5905), req(console=ConsoleKind.CLI0), rundir, None) is None
    assert list(rundir.path.iterdir()) == []


def test_password_file_that_cannot_be_written_is_one_clean_error(rundir: VmRuntimeDir) -> None:
    # Never written through something already there (a planted link, a leftover).
    rundir.vnc_password.symlink_to(rundir.path / "elsewhere")
    with pytest.raises(vnc.CtysError, match=r"cannot write .*vnc.pass: File exists"):
        vnc.vnc_password(vm(), req(vnc_listen="127.0.0.1"), rundir, None)
    assert not (rundir.path / "elsewhere").exists()


# --- what the record, the start line and CONNECT say -----------------------------------


def test_socket_vm_is_noted_from_its_argv_without_qmp(
    rundir: VmRuntimeDir, qmp: dict[str, Any]
) -> None:
    record = RuntimeRecord("a-1234", "a", "/c", argv=["q", "-vnc", f"unix:{rundir.vnc_socket}"])
    assert vnc.note_vnc_address(record, rundir, _Handle(rundir.qmp))
    assert record.vnc_socket == str(rundir.vnc_socket) and record.vnc_display is None
    assert str(vncaddr.record_vnc(record)) == f"unix:{rundir.vnc_socket}"
    assert vnc.vnc_start_note(record, rundir) == f"VNC unix:{rundir.vnc_socket}"
    assert vnc.vnc_attach_line(record, rundir) == f"a: VNC unix:{rundir.vnc_socket}"
    assert qmp["_asked"] == []


def test_tcp_vm_is_noted_from_qmp_and_only_connect_shows_the_password(
    rundir: VmRuntimeDir, qmp: dict[str, Any]
) -> None:
    qmp[str(rundir.qmp)] = {
        "enabled": True,
        "family": "ipv4",
        "host": "127.0.0.1",
        "service": "5907",
    }
    argv = ["q", "-vnc", "127.0.0.1:0,to=99,password=on"]
    record = RuntimeRecord("a-1234", "a", "/c", argv=argv)
    secret = vnc.vnc_password(vm(), req(vnc_listen="127.0.0.1"), rundir, None)
    assert secret is not None
    assert vnc.note_vnc_address(record, rundir, _Handle(rundir.qmp))
    assert (record.vnc_host, record.vnc_display, record.vnc_socket) == ("127.0.0.1", 7, None)
    start = vnc.vnc_start_note(record, rundir)
    assert start == f"VNC 127.0.0.1:5907 (display :7; password in {rundir.vnc_password})"
    assert secret not in record.to_json()
    assert vnc.vnc_attach_line(record, rundir) == f"a: VNC 127.0.0.1:5907, password {secret}"


def test_vncpass_is_named_not_shown(rundir: VmRuntimeDir) -> None:
    argv = ["q", "-vnc", "127.0.0.1:3,password=on"]
    record = RuntimeRecord("a-1", "a", "/c", vnc_display=3, argv=argv)
    assert (
        vnc.vnc_start_note(record, rundir)
        == "VNC 127.0.0.1:5903 (display :3; password from VNCPASS)"
    )
    assert vnc.vnc_attach_line(record, rundir) == "a: VNC 127.0.0.1:5903"


def test_no_vnc_server() -> None:
    record = RuntimeRecord("a-1", "a", "/c", argv=["q", "-display", "none"])
    nowhere = VmRuntimeDir(Path("/nonexistent"))
    assert not vnc.note_vnc_address(record, nowhere, _Handle(nowhere.qmp))
    assert vncaddr.record_vnc(record) is None
    with pytest.raises(vnc.VmStateError, match="no VNC server"):
        vnc.vnc_attach_line(record, VmRuntimeDir(Path("/nonexistent")))


def test_viewer_opens_the_socket_or_the_port_with_the_password_in_its_environment(
    rundir: VmRuntimeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[tuple[list[str], dict[str, str] | None]] = []
    monkeypatch.setattr(vnc, "launch_detached", lambda argv, env=None: launched.append((argv, env)))
    monkeypatch.setenv("DISPLAY", ":0")

    def which(name: str) -> str | None:
        return f"/usr/bin/{name}" if name in ("vncviewer", "gvncviewer") else None

    on_socket = RuntimeRecord("a-1", "a", "/c", vnc_socket=str(rundir.vnc_socket))
    vnc.launch_vnc_viewer(on_socket, rundir, None, which)
    secret = vnc.vnc_password(vm(), req(vnc_listen="127.0.0.1"), rundir, None)
    on_port = RuntimeRecord("a-1", "a", "/c", vnc_display=4)
    vnc.launch_vnc_viewer(on_port, rundir, None, which)
    [(argv1, env1), (argv2, env2)] = launched
    assert argv1 == ["/usr/bin/vncviewer", str(rundir.vnc_socket)] and env1 is None
    assert argv2 == ["/usr/bin/vncviewer", "127.0.0.1::5904"]
    assert secret is not None and secret not in argv2
    assert env2 is not None and env2["VNC_PASSWORD"] == secret and "PATH" in env2


# --- query-vnc and foreign qemus (LIST) --------------------------------------------------


def test_query_vnc_forms(qmp: dict[str, Any]) -> None:
    qmp["/u"] = {"enabled": True, "family": "unix", "host": "", "service": "/r/vnc.sock"}
    qmp["/t"] = {"enabled": True, "family": "ipv6", "host": "::1", "service": "5911"}
    qmp["/off"] = {"enabled": False}
    qmp["/odd"] = {"enabled": True, "family": "ipv4", "host": "h", "service": "x"}
    assert vncaddr.query_vnc(_Handle(Path("/u"))) == VncSpec(unix_path="/r/vnc.sock")
    assert vncaddr.query_vnc(_Handle(Path("/t"))) == VncSpec(host="::1", display=11)
    assert vncaddr.query_vnc(_Handle(Path("/off"))) is None
    assert vncaddr.query_vnc(_Handle(Path("/odd"))) is None
    assert vncaddr.query_vnc(_Handle(Path("/missing"))) is None


def test_foreign_range_is_asked_over_its_qmp_else_shown_as_a_range(qmp: dict[str, Any]) -> None:
    reachable = parse_qemu_cmdline(
        ["qemu-system-x86_64", "-vnc", "127.0.0.1:0,to=20", "-qmp", "unix:/q1,server=on"]
    )
    closed = parse_qemu_cmdline(
        ["qemu-system-x86_64", "-vnc", "127.0.0.1:0,to=20", "-qmp", "unix:/q2,server=on"]
    )
    no_qmp = parse_qemu_cmdline(["qemu-system-x86_64", "-vnc", ":4,to=9"])
    fixed = parse_qemu_cmdline(["qemu-system-x86_64", "-vnc", ":4", "-qmp", "unix:/q3,server"])
    none = parse_qemu_cmdline(["qemu-system-x86_64", "-display", "none"])
    qmp["/q1"] = {"enabled": True, "family": "ipv4", "host": "127.0.0.1", "service": "5903"}
    cmds = [reachable, closed, no_qmp, fixed, none]
    procs = [QemuProcess(100 + i, "me", 0.0, cmd) for i, cmd in enumerate(cmds)]
    columns = vncaddr.foreign_vnc_columns(procs, 0.5)
    assert columns == [
        "127.0.0.1:5903",  # the display QEMU really took
        "127.0.0.1:5900-5920",  # honest: somewhere in this range
        "0.0.0.0:5904-5909",
        "0.0.0.0:5904",
        None,
    ]
    assert sorted(qmp["_asked"]) == ["/q1", "/q2"]  # a fixed display needs no question


def test_a_runtime_dir_too_deep_for_unix_sockets_is_one_clear_error(tmp_path: Path) -> None:
    from ctys.errors import CtysError
    from ctys.plugins.qemu.vm.runtime import RuntimeDir

    deep = tmp_path / ("d" * (110 - len(str(tmp_path))))
    with pytest.raises(CtysError, match=r"too deep for UNIX sockets .*console.sock has \d+ bytes"):
        RuntimeDir(deep).create_vm_dir("vm-1234")
    assert not (deep / "vms" / "vm-1234").exists()
    RuntimeDir(tmp_path / "rt").create_vm_dir("vm-1234")  # a short one is fine


def test_a_viewer_that_cannot_open_the_socket_is_refused_before_booting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ctys.errors import CtysError

    def gvnc_only(name: str) -> str | None:
        return "/usr/bin/gvncviewer" if name == "gvncviewer" else None

    monkeypatch.setenv("DISPLAY", ":0")
    with pytest.raises(CtysError, match=r"UNIX socket.*VNCBIND"):
        vnc.check_vnc_viewer(vm(), req(console=ConsoleKind.VNC), gvnc_only)
    # A TCP port suits it; no VNC console or no display needs no viewer at all.
    vnc.check_vnc_viewer(vm(), req(console=ConsoleKind.VNC, vnc_listen="127.0.0.1"), gvnc_only)
    vnc.check_vnc_viewer(vm(vncport=5909), req(console=ConsoleKind.VNC), gvnc_only)
    vnc.check_vnc_viewer(vm(), req(console=ConsoleKind.CLI), gvnc_only)
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    vnc.check_vnc_viewer(vm(), req(console=ConsoleKind.VNC), gvnc_only)
