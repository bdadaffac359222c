"""LIST of a managed VM whose conf is outside the scanned folders: its IP column comes from
the conf the runtime record names (issue 9, point 19)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctys.plugins.qemu.actions.list import list_vms
from ctys.plugins.qemu.vm import qmpprobe
from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
from ctys.plugins.qemu.vm.processes import QemuProcess
from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord


@pytest.fixture(autouse=True)
def running_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        qmpprobe, "query_states", lambda sockets, timeout: ["running"] * len(sockets)
    )


def _started(runtime: RuntimeDir, conf: Path, pid: int) -> QemuProcess:
    vmdir = runtime.create_vm_dir("far-1")
    vmdir.write_record(RuntimeRecord(vmid="far-1", label="far", conf=str(conf), pid=pid))
    vmdir.qmp.touch()
    argv = ["qemu-system-x86_64", "-name", "far", "-qmp", f"unix:{vmdir.qmp},server=on"]
    return QemuProcess(pid, "me", 1.0, parse_qemu_cmdline(argv))


def test_ip_of_a_vm_whose_conf_was_not_scanned(short_tmp: Path) -> None:
    conf = short_tmp / "elsewhere" / "far.conf"
    conf.parent.mkdir()
    conf.write_text("#@#MAGICID-QEMU\n#@#LABEL = far\n#@#IP = 10.9.8.7/24\nKERNEL=vmlinuz\n")
    runtime = RuntimeDir(short_tmp / "rt")
    [entry] = list_vms(runtime, [], [_started(runtime, conf, 4711)])
    assert entry.ip == "10.9.8.7"
    assert entry.conf == conf


def test_unreadable_conf_of_the_record_gives_no_ip_and_no_error(short_tmp: Path) -> None:
    runtime = RuntimeDir(short_tmp / "rt")
    [entry] = list_vms(runtime, [], [_started(runtime, short_tmp / "gone.conf", 4712)])
    assert entry.ip is None
