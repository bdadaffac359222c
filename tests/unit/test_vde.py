"""VDE switch lifecycle and the tap/bridge rights checks."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ctys.plugins.qemu.net.network import NetMode, NetworkConfig, Nic, VdeSwitchRef
from ctys.plugins.qemu.net.vde import (
    NetworkSetupError,
    VdeSwitch,
    attached_endpoints,
    bridge_acl_allows,
    check_bridge,
    check_host_network,
    check_tap,
    count_endpoints,
    managed_switches,
    release_idle_switches,
    sweep_orphan_switches,
    switches_up,
)
from support.procs import live_switch_pids

needs_vde = pytest.mark.skipif(shutil.which("vde_switch") is None, reason="vde2 not installed")

ALLPRINT = """0000 DATA END WITH '.'
Port 0001 untagged_vlan=0000 ACTIVE - Unnamed Allocatable
 Current User: root Access Control: (User: NONE - Group: NONE)
 IN:  pkts          0          bytes                    0
  -- endpoint ID 0003 module unix prog   : QEMU user=root pid=17755
Port 0002 untagged_vlan=0000 INACTIVE - Unnamed Allocatable
Port 0003 untagged_vlan=0000 ACTIVE - Unnamed Allocatable
  -- endpoint ID 0005 module unix prog   : vde_plug user=root pid=1
.
1000 Success
"""


def test_count_endpoints() -> None:
    assert count_endpoints(ALLPRINT, alive=lambda pid: True) == 2
    assert count_endpoints(ALLPRINT.replace("pid=1\n", "\n"), alive=lambda pid: False) == 1


def test_endpoints_of_dead_processes_are_not_counted() -> None:
    # vde_switch sometimes keeps the endpoint of a plug killed by SIGKILL: a ghost that
    # would keep an idle switch up forever (and made test_switch_started... flaky).
    assert count_endpoints(ALLPRINT, alive=lambda pid: pid == 1) == 1
    assert count_endpoints(ALLPRINT, alive=lambda pid: False) == 0
    assert count_endpoints("0000 DATA END WITH '.'\n.\n1000 Success\n") == 0


def _switch_pids(path: Path) -> list[int]:
    return live_switch_pids(str(path))


@pytest.fixture(autouse=True)
def _no_switch_left(short_tmp: Path) -> Iterator[None]:
    """A failing test must not leave its switch running."""
    yield
    for pid in _switch_pids(short_tmp):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def _wait_endpoints(switch: VdeSwitch, count: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if attached_endpoints(switch, timeout=5) == count:
            return True
        time.sleep(0.05)
    return False


@needs_vde
def test_switch_started_shared_and_released(short_tmp: Path) -> None:
    vde = short_tmp / "vde"
    with switches_up(["lab"], vde) as started:
        assert started == ["lab"]
    switch = VdeSwitch("lab", vde)
    assert switch.running()
    assert attached_endpoints(switch) == 0
    # A second VM on the same network finds it running.
    with switches_up(["lab"], vde) as started:
        assert started == []
    assert len(_switch_pids(vde)) == 1

    # A qemu that is starting names the switch before it plugs in: kept.
    holder = psutil.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", f"sock={switch.ctl}"]
    )
    try:
        assert release_idle_switches(vde) == []
        assert switch.running()
    finally:
        holder.kill()
        holder.wait()
    if shutil.which("vde_plug"):
        # Something plugged in through a path that does not name the switch: the switch
        # itself reports the endpoint, and it is kept.
        alias = short_tmp / "alias"
        alias.symlink_to(switch.ctl)
        plug = psutil.Popen(
            ["vde_plug", str(alias)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        try:
            assert _wait_endpoints(switch, 1)
            assert release_idle_switches(vde) == []
        finally:
            plug.kill()
            plug.wait()
        assert _wait_endpoints(switch, 0)

    assert release_idle_switches(vde) == ["lab"]
    assert _switch_pids(vde) == []
    assert not switch.ctl.exists() and not switch.mgmt.exists() and not switch.pidfile.exists()
    assert managed_switches(vde) == []


@needs_vde
def test_switch_started_for_a_failed_start_goes_again(short_tmp: Path) -> None:
    vde = short_tmp / "vde"
    with pytest.raises(RuntimeError), switches_up(["gone"], vde):
        raise RuntimeError("qemu did not start")
    assert _switch_pids(vde) == []


@needs_vde
def test_dead_switch_files_are_cleared_and_restarted(short_tmp: Path) -> None:
    vde = short_tmp / "vde"
    vde.mkdir(mode=0o700)
    switch = VdeSwitch("old", vde)
    switch.pidfile.write_text("999999\n")  # no such process
    switch.ctl.mkdir()
    assert not switch.running()
    assert managed_switches(vde) == [switch]
    assert release_idle_switches(vde) == []
    assert not switch.pidfile.exists() and not switch.ctl.exists()
    with switches_up(["old"], vde) as started:
        assert started == ["old"]
    assert release_idle_switches(vde) == ["old"]


def test_missing_vde_switch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    net = NetworkConfig((Nic(0, NetMode.VDE, "52:54:00:00:00:01", vde=VdeSwitchRef(name="a")),))
    with pytest.raises(NetworkSetupError, match="apt-get install vde2"):
        check_host_network(net)


def test_external_switch_must_run(tmp_path: Path) -> None:
    ref = VdeSwitchRef(ctl=tmp_path / "none.ctl")
    net = NetworkConfig((Nic(0, NetMode.VDE, "52:54:00:00:00:01", vde=ref),))
    with pytest.raises(NetworkSetupError, match="no VDE switch runs at"):
        check_host_network(net)


# --- bridge -------------------------------------------------------------------------------


def test_bridge_acl(tmp_path: Path) -> None:
    acl = tmp_path / "bridge.conf"
    extra = tmp_path / "more.conf"
    extra.write_text("allow br2\ndeny br3\n")
    acl.write_text(f"# comment\nallow br0\ninclude {extra}\nallow br3\n")
    assert bridge_acl_allows("br0", acl) is True
    assert bridge_acl_allows("br2", acl) is True
    assert bridge_acl_allows("br3", acl) is False  # a deny wins
    assert bridge_acl_allows("br1", acl) is False
    acl.write_text("allow all\ndeny br1\n")
    assert bridge_acl_allows("br9", acl) is True
    assert bridge_acl_allows("br1", acl) is False
    assert bridge_acl_allows("br0", tmp_path / "missing") is None


def _fake_host(tmp_path: Path, *, setuid: bool) -> tuple[Path, Path, Path]:
    sys_net = tmp_path / "sys"
    (sys_net / "br0" / "bridge").mkdir(parents=True)
    helper = tmp_path / "qemu-bridge-helper"
    helper.write_text("")
    mode = 0o755 | (stat.S_ISUID if setuid else 0)
    helper.chmod(mode)
    acl = tmp_path / "bridge.conf"
    acl.write_text("allow br0\n")
    return sys_net, helper, acl


def test_check_bridge_rights(tmp_path: Path) -> None:
    sys_net, helper, acl = _fake_host(tmp_path, setuid=True)
    owner_root = helper.stat().st_uid == 0
    kw = {"sys_net": sys_net, "helpers": [helper], "acl": acl}
    check_bridge("br0", euid=0, **kw)  # type: ignore[arg-type]
    with pytest.raises(NetworkSetupError, match="no such bridge"):
        check_bridge("br7", euid=0, **kw)  # type: ignore[arg-type]
    (sys_net / "br7" / "bridge").mkdir(parents=True)
    with pytest.raises(NetworkSetupError, match=r"does not allow it .*allow br7"):
        check_bridge("br7", euid=0, **kw)  # type: ignore[arg-type]
    with pytest.raises(NetworkSetupError, match="not installed"):
        check_bridge("br0", euid=0, sys_net=sys_net, helpers=[tmp_path / "nope"], acl=acl)
    if owner_root:
        check_bridge("br0", euid=1000, **kw)  # type: ignore[arg-type]
    helper.chmod(0o755)
    with pytest.raises(NetworkSetupError, match="not setuid root"):
        check_bridge("br0", euid=1000, **kw)  # type: ignore[arg-type]


# --- tap ----------------------------------------------------------------------------------


def test_check_tap_rights(tmp_path: Path) -> None:
    sys_net = tmp_path / "sys"
    tun = tmp_path / "tun"
    tun.write_text("")
    (sys_net / "tap0").mkdir(parents=True)
    (sys_net / "tap0" / "owner").write_text("1000\n")
    check_tap("tap0", sys_net=sys_net, tun=tun, euid=1000)
    check_tap("tap0", sys_net=sys_net, tun=tun, euid=0)
    check_tap("tap9", sys_net=sys_net, tun=tun, euid=0)  # root: qemu creates it
    with pytest.raises(NetworkSetupError, match="belongs to uid 1000"):
        check_tap("tap0", sys_net=sys_net, tun=tun, euid=1001)
    with pytest.raises(NetworkSetupError, match=r"no such device \(as root: ip tuntap add"):
        check_tap("tap9", sys_net=sys_net, tun=tun, euid=1001)
    (sys_net / "eth0").mkdir()
    with pytest.raises(NetworkSetupError, match="not a tap device"):
        check_tap("eth0", sys_net=sys_net, tun=tun, euid=1001)
    if os.geteuid() != 0:  # root may open anything
        tun.chmod(0)
        with pytest.raises(NetworkSetupError, match="no read/write access"):
            check_tap("tap0", sys_net=sys_net, tun=tun, euid=1000)


# --- the sweep every CREATE/CANCEL/LIST runs ---------------------------------------------


def test_sweep_without_a_vde_folder_scans_no_process(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_scan(*args: object, **kwargs: object) -> Iterator[psutil.Process]:
        raise AssertionError("the sweep scanned the process table")

    monkeypatch.setattr(psutil, "process_iter", no_scan)
    assert sweep_orphan_switches(short_tmp) == []
    assert not (short_tmp / "vde").exists()


@needs_vde
def test_sweep_leaves_a_switch_alone_while_another_ctys_holds_its_lock(short_tmp: Path) -> None:
    vde = short_tmp / "vde"
    with switches_up(["busy"], vde):
        # A CREATE holds the lock until its qemu has plugged in: the sweep must not wait
        # for it, nor stop the switch under it.
        started = time.monotonic()
        assert sweep_orphan_switches(short_tmp) == []
        assert time.monotonic() - started < 2
        assert VdeSwitch("busy", vde).running()
    assert sweep_orphan_switches(short_tmp) == ["busy"]
    assert _switch_pids(vde) == []


@needs_vde
def test_list_stops_the_switch_a_killed_vm_left(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A VM that ended without CANCEL (kill -9, a crash) leaves its switch idle: the next
    # ctys command that uses the runtime dir stops it, with its files.
    from ctys.cli.main import main

    runtime = short_tmp / "rt"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("CTYS_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("CTYS_VMPATH", str(short_tmp / "vms"))
    monkeypatch.setenv("CTYS_INVENTORY", str(short_tmp / "inv.sqlite"))
    with switches_up(["lab"], runtime / "vde"):
        pass
    switch = VdeSwitch("lab", runtime / "vde")
    assert switch.running()
    assert main(["-t", "QEMU", "-a", "LIST=TERSE"]) == 0
    assert _switch_pids(runtime) == []
    assert not switch.ctl.exists() and not switch.pidfile.exists()
