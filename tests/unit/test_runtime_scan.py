"""The one runtime-dir scan and its one stale rule (``vm.runtime.scan_runtime``), and that
every reader of the runtime dir (CANCEL/CONNECT's running VMs, LIST, the ``IP:`` address,
CREATE's "already running" check) follows it: a copy of the rule that drifts fails here.

The rule: a folder whose qemu lives is kept (its sockets too), readable record or not (an
unreadable one is reported); a folder whose qemu is dead, or whose pid now belongs to a
process that does not name the folder, is removed (logs kept) unless a CREATE holds its
start lock."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctys.errors import VmStateError
from ctys.plugins.qemu.actions.find_running import managed_instance, running_vms
from ctys.plugins.qemu.actions.list import list_vms
from ctys.plugins.qemu.actions.startseq import _refuse_running
from ctys.plugins.qemu.net.guestip import running_vms_with_ip
from ctys.plugins.qemu.vm.processes import read_qemu_process
from ctys.plugins.qemu.vm.runtime import (
    EntryState,
    RuntimeDir,
    RuntimeRecord,
    VmRuntimeDir,
    scan_runtime,
)
from ctys.plugins.qemu.vmconfig import VmConfig

NO_SUCH_PID = 99_999_999


@pytest.fixture
def runtime(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> RuntimeDir:
    monkeypatch.setenv("XDG_STATE_HOME", str(short_tmp / "state"))
    return RuntimeDir(short_tmp / "rt")


@pytest.fixture
def fake_qemu(short_tmp: Path) -> Iterator[Callable[[VmRuntimeDir], int]]:
    """Start a process that looks like a qemu of a runtime folder (its argv[0] is named
    qemu-system-x86_64, its argv names the folder's sockets); returns its pid."""
    link = short_tmp / "qemu-system-x86_64"
    link.symlink_to(sys.executable)
    procs: list[subprocess.Popen[bytes]] = []

    def start(rundir: VmRuntimeDir) -> int:
        proc = subprocess.Popen(
            [str(link), "-c", "import time; time.sleep(60)", "-qmp", f"unix:{rundir.qmp}"]
        )
        procs.append(proc)
        deadline = time.monotonic() + 5
        while read_qemu_process(proc.pid) is None or not read_qemu_process(
            proc.pid
        ).cmdline.references(str(rundir.path)):  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.01)
        return proc.pid

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _folder(
    runtime: RuntimeDir, vmid: str, pid: int | None, conf: Path | None = None
) -> VmRuntimeDir:
    rundir = runtime.create_vm_dir(vmid)
    rundir.write_record(RuntimeRecord(vmid=vmid, label=vmid, conf=str(conf or ""), pid=pid))
    rundir.qmp.touch()
    rundir.qemu_log.write_text("ran\n")
    return rundir


def _unreadable(rundir: VmRuntimeDir, pid: int | None) -> None:
    rundir.state.write_text("{ not json")
    if pid is not None:
        rundir.pidfile.write_text(f"{pid}\n")


# Every reader of the runtime dir, each run once over it; what it leaves is compared.
def _cancel(runtime: RuntimeDir) -> None:
    running_vms(runtime)


def _connect(runtime: RuntimeDir) -> None:
    for rundir in list(runtime.all_vms()):
        managed_instance(runtime, rundir.vmid)


def _list(runtime: RuntimeDir) -> None:
    list_vms(runtime, [], None, status_timeout=0.2)


def _ip_address(runtime: RuntimeDir) -> None:
    from ctys.plugins.qemu.confs.mapping import load_vm_config

    running_vms_with_ip("10.0.0.1", runtime, loader=load_vm_config, neighbours=[])


def _create_check(runtime: RuntimeDir) -> None:
    for rundir in list(runtime.all_vms()):
        vm = VmConfig(conf_path=Path("/nonexistent/x.conf"), label="x")
        with pytest.raises(VmStateError) if _alive(rundir) else _nothing():
            _refuse_running(vm, runtime, rundir.vmid)


def _alive(rundir: VmRuntimeDir) -> bool:
    return (
        rundir.pidfile.exists() and read_qemu_process(int(rundir.pidfile.read_text())) is not None
    )


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


READERS = [_cancel, _connect, _list, _ip_address, _create_check]


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__.strip("_"))
def test_a_dead_pid_makes_the_folder_stale_and_it_goes_with_its_logs_kept(
    runtime: RuntimeDir, reader: Callable[[RuntimeDir], None]
) -> None:
    rundir = _folder(runtime, "dead-1", NO_SUCH_PID)
    reader(runtime)
    assert not rundir.path.exists()
    assert any(Path(os.environ["XDG_STATE_HOME"]).glob("ctys/logs/dead-1*/qemu.log"))


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__.strip("_"))
def test_a_live_qemu_with_an_unreadable_record_keeps_its_folder_and_sockets(
    runtime: RuntimeDir,
    fake_qemu: Callable[[VmRuntimeDir], int],
    reader: Callable[[RuntimeDir], None],
) -> None:
    rundir = _folder(runtime, "torn-1", None)
    _unreadable(rundir, fake_qemu(rundir))
    reader(runtime)
    assert rundir.qmp.exists() and rundir.pidfile.exists()


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__.strip("_"))
def test_a_pid_reused_by_a_process_that_names_another_folder_is_stale(
    runtime: RuntimeDir,
    fake_qemu: Callable[[VmRuntimeDir], int],
    reader: Callable[[RuntimeDir], None],
) -> None:
    other = runtime.vm("reused-10")  # its path starts with reused-1's
    intruder = fake_qemu(other)
    mine = _folder(runtime, "reused-1", intruder)
    python = _folder(runtime, "reused-2", os.getpid())  # alive, but not a qemu
    reader(runtime)
    assert not mine.path.exists() and not python.path.exists()


def test_the_scan_says_what_each_folder_is_and_reports_the_unreadable_one(
    runtime: RuntimeDir, fake_qemu: Callable[[VmRuntimeDir], int]
) -> None:
    running = _folder(runtime, "a-run", None)
    running_pid = fake_qemu(running)
    running.write_record(RuntimeRecord(vmid="a-run", label="a", conf="", pid=running_pid))
    torn = _folder(runtime, "b-torn", None)
    torn_pid = fake_qemu(torn)
    _unreadable(torn, None)  # no pidfile either: the qemu naming the folder is found
    starting = _folder(runtime, "c-start", NO_SUCH_PID)
    stale = _folder(runtime, "d-stale", NO_SUCH_PID)
    with runtime.start_lock("c-start"):
        entries = {e.rundir.vmid: e for e in scan_runtime(runtime)}
    assert {k: e.state for k, e in entries.items()} == {
        "a-run": EntryState.RUNNING,
        "b-torn": EntryState.UNREADABLE,
        "c-start": EntryState.STARTING,
        "d-stale": EntryState.STALE,
    }
    assert entries["a-run"].pid == running_pid and entries["b-torn"].pid == torn_pid
    assert starting.path.exists() and not stale.path.exists()
    assert [e.problem() for e in entries.values() if e.problem()] == [
        f"ctys: runtime record {torn.state} is unreadable, but its qemu (pid {torn_pid}) still"
        f" runs; its folder is left alone (CANCEL=VMID:{torn_pid},FORCE stops it)"
    ]


def test_list_reports_the_unreadable_record_and_shows_its_qemu_unmanaged(
    runtime: RuntimeDir, fake_qemu: Callable[[VmRuntimeDir], int]
) -> None:
    torn = _folder(runtime, "torn-2", None)
    pid = fake_qemu(torn)
    _unreadable(torn, pid)
    err = io.StringIO()
    entries = list_vms(runtime, [], None, status_timeout=0.2, err=err)
    assert [(e.pid, e.managed) for e in entries if e.pid == pid] == [(pid, False)]
    assert "is unreadable, but its qemu" in err.getvalue()
