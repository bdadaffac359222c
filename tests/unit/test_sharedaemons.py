"""The virtiofsd daemons of a VM folder: started and waited for, a failing one reported by
its log, what is left stopped when the folder is removed (fake daemons, no qemu)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ctys.errors import VmError
from ctys.plugins.qemu.shares.fsdaemon import start_daemons
from ctys.plugins.qemu.shares.romount import main as romount_main
from ctys.plugins.qemu.shares.shareargv import HostShareTools, SharePlan
from ctys.plugins.qemu.shares.shareconf import Share, Transport
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir
from ctys.plugins.qemu.vm.sidecars import running_sidecars, sidecar_pid, stop_sidecars

# Stands in for virtiofsd: makes its --socket-path, then serves until killed.
LISTENS = """#!{python}
import pathlib, sys, time
sock = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--socket-path="))
pathlib.Path(sock).touch()
time.sleep(600)
"""
FAILS = """#!/bin/sh
echo "fuse: unknown option(s): -o bogus" >&2
exit 1
"""


def _tools(tmp_path: Path, script: str) -> HostShareTools:
    daemon = tmp_path / "virtiofsd"
    daemon.write_text(script.format(python=sys.executable))
    daemon.chmod(0o755)
    return HostShareTools(daemon, None, root=True)


def _plan(tmp_path: Path, index: int, transport: Transport = Transport.VIRTIOFS) -> SharePlan:
    return SharePlan(Share(index, f"#@#SHARE{index}", tmp_path, f"t{index}"), transport)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_one_daemon_per_virtiofs_share_and_removing_the_folder_stops_them(
    tmp_path: Path,
) -> None:
    vmdir = tmp_path / "vms" / "vm1"
    vmdir.mkdir(parents=True)
    tools = _tools(tmp_path, LISTENS)
    plans = [_plan(tmp_path, 0), _plan(tmp_path, 1, Transport.NINEP), _plan(tmp_path, 2)]
    pids = start_daemons(plans, vmdir, tools)
    assert len(pids) == 2  # 9p needs none
    assert sorted(running_sidecars(vmdir)) == sorted(pids)
    assert (vmdir / "fs0.sock").exists() and (vmdir / "fs2.sock").exists()
    assert oct((vmdir / "fs0.pid").stat().st_mode & 0o777) == "0o600"
    VmRuntimeDir(vmdir).remove()
    assert all(_gone(pid) for pid in pids)
    assert not vmdir.exists()


def test_a_daemon_that_fails_is_reported_by_its_last_log_line(tmp_path: Path) -> None:
    vmdir = tmp_path / "vm1"
    vmdir.mkdir()
    with pytest.raises(VmError, match=r"#@#SHARE0: virtiofsd for .* failed: fuse: unknown"):
        start_daemons([_plan(tmp_path, 0)], vmdir, _tools(tmp_path, FAILS))


def test_a_later_failure_stops_the_daemons_started_before(tmp_path: Path) -> None:
    vmdir = tmp_path / "vm1"
    vmdir.mkdir()
    good = _tools(tmp_path, LISTENS)
    missing = HostShareTools(tmp_path / "no-such-virtiofsd", None, root=True)
    first = start_daemons([_plan(tmp_path, 0)], vmdir, good)
    with pytest.raises(VmError, match=r"#@#SHARE1: cannot start .*no-such-virtiofsd"):
        start_daemons([_plan(tmp_path, 1)], vmdir, missing)
    assert all(_gone(pid) for pid in first)


def test_a_recycled_pid_is_never_stopped(tmp_path: Path) -> None:
    """A pid file whose process does not name the socket beside it is someone else's."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "fs0.pid").write_text(f"{other.pid}\n")
        (tmp_path / "fs1.pid").write_text("not a pid\n")
        assert sidecar_pid(tmp_path / "fs0.pid") is None
        assert stop_sidecars(tmp_path) == []
        time.sleep(0.05)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_romount_refuses_a_call_without_its_separator(capsys: pytest.CaptureFixture[str]) -> None:
    assert romount_main(["/srv/data", "virtiofsd"]) == 2
    assert "usage: romount HOSTDIR -- PROGRAM" in capsys.readouterr().err
