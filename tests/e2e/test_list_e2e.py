"""LIST against a real, bare qemu that this tool did not start (no guest needed)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from ctys.plugins.qemu.actions.list import list_vms
from ctys.plugins.qemu.vm.processes import scan_qemu_processes
from ctys.plugins.qemu.vm.runtime import RuntimeDir, VmRuntimeDir, living_qemu
from ctys.plugins.qemu.vmconfig import VmConfig

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="no qemu"),
]


def test_list_shows_a_foreign_qemu_unmanaged(short_tmp: Path) -> None:
    # A short folder: the QMP socket path must fit a UNIX socket under any test runner.
    tmp_path = short_tmp
    name = f"ext1-{tmp_path.name}"[:40]
    vmdir = tmp_path / name
    vmdir.mkdir()
    conf = VmConfig(conf_path=vmdir / f"{name}.conf", label="from-conf", ip="10.1.2.3")
    argv = [
        "qemu-system-x86_64", "-accel", "tcg", "-machine", "none", "-display", "none",
        "-nodefaults", "-monitor", "none", "-serial", "none", "-name", name,
        "-qmp", f"unix:{vmdir / 'qmp.sock'},server=on,wait=off",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not any(p.pid == proc.pid for p in scan_qemu_processes()):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "qemu did not show up in the process table"
            time.sleep(0.1)
        entries = list_vms(RuntimeDir(tmp_path / "runtime"), [conf])
        [entry] = [e for e in entries if e.pid == proc.pid]
        assert entry.label == name
        assert not entry.managed
        assert entry.state == "running"
        assert entry.accelerator == "tcg"
        assert entry.qmp == vmdir / "qmp.sock"
        assert entry.conf == conf.conf_path  # label == conf prefix
        assert entry.ip == "10.1.2.3"
        assert living_qemu(proc.pid, VmRuntimeDir(vmdir)) is not None
        assert living_qemu(proc.pid, VmRuntimeDir(tmp_path / "elsewhere")) is None
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert living_qemu(proc.pid, VmRuntimeDir(vmdir)) is None


def _bare_qemu(*extra: str) -> subprocess.Popen[bytes]:
    argv = [
        "qemu-system-x86_64", "-accel", "tcg", "-machine", "none", "-display", "none",
        "-nodefaults", "-monitor", "none", "-serial", "none", *extra,
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _vnc_port(pid: int) -> int:
    """The TCP port qemu ``pid`` really listens on (read from the kernel, not from ctys)."""
    deadline = time.monotonic() + 10
    while True:
        ports = [
            c.laddr.port
            for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN
        ]
        if ports:
            return ports[0]
        assert time.monotonic() < deadline, "qemu opened no VNC port"
        time.sleep(0.1)


def test_list_shows_the_vnc_port_a_foreign_qemu_took_from_its_range(tmp_path: Path) -> None:
    # Display :0 is taken (by us, or by anyone else already), so QEMU takes a later one of
    # its range; the command line still says ":0".
    holder = contextlib.ExitStack()
    with contextlib.suppress(OSError):
        holder.enter_context(socket.create_server(("127.0.0.1", 5900)))
    with holder:
        qmp = f"unix:{tmp_path / 'q.sock'},server=on,wait=off"
        asked = _bare_qemu("-vnc", "127.0.0.1:0,to=99", "-qmp", qmp)
        mute = _bare_qemu("-vnc", "127.0.0.1:0,to=99")
        try:
            real = _vnc_port(asked.pid)
            _vnc_port(mute.pid)
            assert real != 5900
            entries = list_vms(RuntimeDir(tmp_path / "runtime"), [])
            shown = {e.pid: e.vnc for e in entries}
            # The QMP socket its command line names is asked for the real port; without
            # one, the column says honestly that it is somewhere in the range.
            assert shown[asked.pid] == f"127.0.0.1:{real}"
            assert shown[mute.pid] == "127.0.0.1:5900-5999"
        finally:
            for proc in (asked, mute):
                proc.kill()
                proc.wait(timeout=10)


def test_list_reads_the_state_of_a_managed_qemu_from_its_monitor(short_tmp: Path) -> None:
    # A qemu in a runtime folder as CREATE leaves it (record, pidfile, QMP socket), stopped
    # before it runs (-S): LIST's one-thread probe (vm.qmpprobe) reads "prelaunch".
    from ctys.plugins.qemu.vm.qmpprobe import query_states
    from ctys.plugins.qemu.vm.runtime import RuntimeRecord

    runtime = RuntimeDir(short_tmp / "rt")
    vmdir = runtime.create_vm_dir("probe-0001")
    proc = _bare_qemu(
        "-S", "-name", "probe", "-pidfile", str(vmdir.pidfile),
        "-qmp", f"unix:{vmdir.qmp},server=on,wait=off",
    )  # fmt: skip
    try:
        vmdir.write_record(RuntimeRecord(vmid=vmdir.vmid, label="probe", conf="", pid=proc.pid))
        deadline = time.monotonic() + 10
        while not vmdir.qmp.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "qemu opened no QMP socket"
            time.sleep(0.05)
        assert query_states([vmdir.qmp, vmdir.qmp], 5.0) == ["prelaunch", "prelaunch"]
        [entry] = [e for e in list_vms(runtime, []) if e.pid == proc.pid]
        assert entry.managed
        assert entry.state == "prelaunch"
        assert entry.vmid == "probe-0001"
    finally:
        proc.kill()
        proc.wait(timeout=10)
