"""LIST against a real, bare qemu that this tool did not start (no guest needed)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ctys.actions.list import list_vms
from ctys.conf.model import VmConfig
from ctys.qemu.processes import is_alive_qemu, scan_qemu_processes
from ctys.qemu.runtime import RuntimeDir

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="no qemu"),
]


def test_list_shows_a_foreign_qemu_unmanaged(tmp_path: Path) -> None:
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
        assert is_alive_qemu(proc.pid, vmdir)
        assert not is_alive_qemu(proc.pid, tmp_path / "elsewhere")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert not is_alive_qemu(proc.pid, vmdir)
