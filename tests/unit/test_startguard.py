"""The start guard knows the qemu from Popen on and cleans up after an interrupted start."""

from __future__ import annotations

import io
import os
import signal
import subprocess
from pathlib import Path

import pytest

from ctys.errors import VmError
from ctys.plugins.qemu.actions import startguard
from ctys.plugins.qemu.actions.startguard import StartGuard
from ctys.plugins.qemu.vm import lifecycle
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runtime import RuntimeDir


def test_launch_names_the_pid_before_it_waits_for_the_monitor(tmp_path: Path) -> None:
    rundir = RuntimeDir(tmp_path / "rt").create_vm_dir("g-1")
    seen: list[int] = []
    with pytest.raises(VmError, match="did not open its monitor"):
        VmHandle.launch(["sleep", "30"], rundir, ready_timeout=0.2, on_spawn=seen.append)
    assert len(seen) == 1 and not lifecycle.process_alive(seen[0])


def _kill(vm: VmHandle, grace: float = 3.0) -> lifecycle.StopResult:
    os.kill(vm.pid, signal.SIGKILL)
    lifecycle.wait_exit(vm.pid, 5)
    return lifecycle.StopResult(lifecycle.StopHow.KILL, 0.0)


@pytest.mark.parametrize("known", [True, False], ids=["from-popen", "found-by-argv"])
def test_an_interrupted_start_stops_its_qemu_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, known: bool
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(startguard.VmHandle, "kill", _kill)
    rundir = RuntimeDir(tmp_path / "rt").create_vm_dir("g-2")
    rundir.qemu_log.write_text("qemu said something\n")
    # Stands in for qemu: its argv names the folder's pidfile, as ctys's qemu argv does.
    # A second command keeps sh itself running (dash execs a lone last command, and the
    # argv would lose the pidfile).
    proc = subprocess.Popen(["sh", "-c", "sleep 30; exit 0", "sh", "-pidfile", str(rundir.pidfile)])
    guard = StartGuard(rundir)
    if known:
        guard.spawned(proc.pid)
    err = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        guard.abort(KeyboardInterrupt(), err)
    proc.wait(timeout=5)
    assert (
        err.getvalue() == f"ctys: interrupted; stopped the qemu it had started (pid {proc.pid})\n"
    )
    assert not rundir.path.exists()
    assert (tmp_path / "state" / "ctys" / "logs" / "g-2" / "qemu.log").exists()


def test_an_interrupt_before_any_qemu_says_nothing_is_left(tmp_path: Path) -> None:
    rundir = RuntimeDir(tmp_path / "rt").create_vm_dir("g-3")
    err = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        StartGuard(rundir).abort(KeyboardInterrupt(), err)
    assert err.getvalue() == "ctys: interrupted; no qemu was left running\n"
    assert not rundir.path.exists()


def test_a_failed_start_names_the_kept_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    rundir = RuntimeDir(tmp_path / "rt").create_vm_dir("g-4")
    rundir.qemu_log.write_text("qemu: bad option\n")
    with pytest.raises(VmError) as failed:
        StartGuard(rundir).abort(VmError("qemu failed to start: bad option"))
    kept = tmp_path / "state" / "ctys" / "logs" / "g-4" / "qemu.log"
    assert str(failed.value) == f"qemu failed to start: bad option (see {kept})"
