"""A layer-2 network across two ssh hosts: ``#@#VDENET = lab@hostB`` links hostA's switch
``lab`` to hostB's through ``dpipe vde_plug = ssh hostB ctys-vdeplug lab``; a guest on each
host pings the other, and after both CANCELs no switch, link or file is left.

The hosts are real sshd hosts (``sshhosts.py``), each with its own runtime dir and, where
``unshare`` works, its own PID namespace.  As root each host also lives in its own network
namespace on a private LAN (``netlan.py``: veths to a bridge, 10.203.K.0/24), so the link's
ssh goes from hostA's namespace over veths into hostB's, as between two machines; the test
checks that connection in hostA's namespace (``ss``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import netlan
import psutil
import pytest
from netlan import NetLan
from sshhosts import SshHost, SshHosts

from ctys.consoles.serial import SerialConsole
from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images.build import GuestImage
from support.cli import Ctys
from support.procs import live_qemu_pids, live_switch_pids

pytestmark = pytest.mark.e2e

PROMPT = "guest#"
LINK_PROGRAMS = ("dpipe", "vde_plug", "ssh", "ctys-vdeplug")
# Own network namespaces need root and iproute2; elsewhere the hosts share loopback.
NETNS = os.geteuid() == 0 and shutil.which("ip") is not None and shutil.which("ss") is not None


def _vm(host: SshHost, guest: GuestImage, label: str, n: int, vdenet: str) -> None:
    conf = write_demo_conf(host.vms / label, guest, label, extra_append=f"ctys.ip=10.9.0.{n}/24")
    with conf.open("a") as out:
        out.write(f"#@#VDENET = {vdenet}\n#@#IP = 10.9.0.{n}\n")


def _console(host: SshHost, label: str) -> SerialConsole:
    assert host.runtime is not None
    [sock] = Path(host.runtime, "vms").glob(f"{label}-*/console.sock")
    return SerialConsole(sock, timeout=30)


def _ping(host: SshHost, label: str, address: str, wait: int = 2) -> tuple[int, str]:
    with _console(host, label) as console:
        console.send_line(f"ping -c 1 -W {wait} {address}; echo RC=$?")
        out = console.read_until(re.compile(rb"RC=\d+"), timeout=30).decode(errors="replace")
    return int(re.findall(r"RC=(\d+)", out)[-1]), out


def _link_processes(*markers: str) -> list[str]:
    """The living dpipe / vde_plug / ssh / ctys-vdeplug processes that name a marker
    (a host's runtime dir, the link's remote command)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        argv = proc.info.get("cmdline") or []
        if not argv or proc.info.get("status") == psutil.STATUS_ZOMBIE:
            continue
        names = {Path(argv[0]).name, *(Path(a).name for a in argv[1:2])}
        if names & set(LINK_PROGRAMS) and any(m in " ".join(argv) for m in markers):
            found.append(" ".join(argv))
    return found


def _wait_gone(check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    """``check()`` until it is empty (the remote end stops its side a moment later)."""
    deadline = time.monotonic() + timeout
    while (left := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _two_hosts(ssh_hosts: SshHosts) -> tuple[SshHost, SshHost, str, str]:
    """hostA and hostB, each able to reach the other over ssh; their runtime dirs."""
    host_a, host_b = ssh_hosts.add(2, reach_peers=True, netns=NETNS)
    assert host_a.runtime is not None and host_b.runtime is not None
    if NETNS:
        assert host_a.netns and host_b.netns and host_a.address != host_b.address
    return host_a, host_b, str(host_a.runtime), str(host_b.runtime)


def _link_connections(source: SshHost, peer: SshHost) -> list[str]:
    """The argv of each process in ``source``'s network namespace with an established TCP
    connection to ``peer``'s sshd (its namespace address), as ``ss`` shows them there."""
    assert source.netns is not None
    done = subprocess.run(
        [*NetLan.exec_argv(source.netns), "ss", "-Htnp", "state", "established"],
        capture_output=True, text=True, timeout=20, check=True,
    )  # fmt: skip
    found = []
    for line in done.stdout.splitlines():
        if f"{peer.address}:{peer.port} " not in f"{line} ":
            continue
        for pid in re.findall(r"pid=(\d+)", line):
            try:
                found.append(" ".join(psutil.Process(int(pid)).cmdline()))
            except psutil.Error:
                continue
    return found


def _create(rctys: Ctys, label: str, host: str) -> None:
    done = rctys(
        "-t", "QEMU", "-a", f"CREATE=l:{label},WAIT:{PROMPT}", "-b", "1", host, timeout=180
    )
    assert done.returncode == 0, done.stderr


def _cancel(rctys: Ctys, label: str, host: str) -> None:
    done = rctys("-t", "QEMU", "-a", f"CANCEL=l:{label},TIMEOUT:20", host, timeout=90)
    assert done.returncode == 0, done.stderr


def _nothing_left(*runtimes: str) -> None:
    """No switch, link or remote end of these runtime dirs runs; their vde folders hold
    nothing but lock files."""
    assert _wait_gone(lambda: [p for r in runtimes for p in live_switch_pids(r)]) == []
    assert _wait_gone(lambda: _link_processes(*runtimes, "ctys-vdeplug")) == []
    for runtime in runtimes:
        left = sorted(p.name for p in Path(runtime, "vde").iterdir() if p.suffix != ".lock")
        assert left == [], left


def test_guests_on_two_hosts_ping_over_linked_switches(
    rctys: Ctys, ssh_hosts: SshHosts, guest: GuestImage
) -> None:
    host_a, host_b, rt_a, rt_b = _two_hosts(ssh_hosts)
    _vm(host_a, guest, "la", 1, "lab@hostB")
    _vm(host_b, guest, "lb", 2, "lab")

    # -n on hostA shows the link it would start, and starts nothing (a local -n with a
    # remote target shows only the ssh command line).
    argv = ssh_hosts.ssh_argv(
        "hostA", str(ssh_hosts.ctys_bin), "-t", "QEMU", "-a", "CREATE=l:la", "-n"
    )
    plan = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert plan.returncode == 0, plan.stderr
    link_line = next(line for line in plan.stdout.splitlines() if "dpipe" in line)
    assert f"{rt_a}/vde/lab.ctl = ssh" in link_line
    assert "ControlMaster=no" in link_line and link_line.endswith("hostB 'ctys-vdeplug lab ID'")
    assert live_switch_pids(rt_a) == [] and _link_processes(rt_a, "ctys-vdeplug") == []

    _create(rctys, "lb", "hostB")
    _create(rctys, "la", "hostA")
    # One switch on each host, hostB's the one its VM started (the link joined it).
    assert len(live_switch_pids(rt_a)) == 1 and len(live_switch_pids(rt_b)) == 1
    assert Path(rt_a, "vde", "lab@hostB.link").exists()
    assert (Path(rt_a, "vde", "lab@hostB.link").stat().st_mode & 0o777) == 0o600
    if NETNS:
        # The link's ssh really runs in hostA's namespace and connects to hostB's address.
        conns = _link_connections(host_a, host_b)
        assert any(Path(c.split()[0]).name == "ssh" and "ctys-vdeplug lab" in c for c in conns), (
            conns
        )
        assert host_b.address != "127.0.0.1"

    status, out = _ping(host_a, "la", "10.9.0.2", wait=5)
    assert status == 0, out
    assert "1 packets received" in out
    status, out = _ping(host_b, "lb", "10.9.0.1")
    assert status == 0, out
    status, out = _ping(host_a, "la", "10.9.0.3", wait=1)  # nobody: the pings are real
    assert status != 0, out

    # hostA's VM goes: its switch and the link go; hostB's switch stays for its VM.
    _cancel(rctys, "la", "hostA")
    assert _wait_gone(lambda: live_switch_pids(rt_a)) == []
    assert _wait_gone(lambda: _link_processes(rt_a, rt_b, "ctys-vdeplug")) == []
    assert len(live_switch_pids(rt_b)) == 1 and len(live_qemu_pids(rt_b)) == 1

    _cancel(rctys, "lb", "hostB")
    _nothing_left(rt_a, rt_b)
    if NETNS:
        assert _link_connections(host_a, host_b) == []


def test_the_remote_switch_goes_when_the_link_is_its_last_user(
    rctys: Ctys, ssh_hosts: SshHosts, guest: GuestImage
) -> None:
    """Only hostA has a VM: hostB's switch exists for the link alone, and goes with it;
    a peer that cannot be reached fails the CREATE with one line, and nothing runs."""
    host_a, _host_b, rt_a, rt_b = _two_hosts(ssh_hosts)
    _vm(host_a, guest, "la", 1, "lab@hostB")
    _vm(host_a, guest, "lost", 3, "far@nosuchpeer")

    done = rctys("-t", "QEMU", "-a", "CREATE=l:lost", "-b", "1", "hostA", timeout=90)
    assert done.returncode != 0
    assert "VDENET far@nosuchpeer: the link failed: " in done.stderr, done.stderr
    assert live_qemu_pids(rt_a) == [] and live_switch_pids(rt_a) == []

    _create(rctys, "la", "hostA")
    assert len(live_switch_pids(rt_b)) == 1  # started by the link's remote end
    _cancel(rctys, "la", "hostA")
    _nothing_left(rt_a, rt_b)


def test_both_sides_linking_make_no_loop(
    rctys: Ctys, ssh_hosts: SshHosts, guest: GuestImage
) -> None:
    """hostA's VM names lab@hostB and hostB's names lab@hostA: two links between the same
    two switches. The switches' spanning tree blocks one: the guests still ping each other
    (a broadcast loop would drown them), and everything goes with the CANCELs."""
    host_a, host_b, rt_a, rt_b = _two_hosts(ssh_hosts)
    _vm(host_a, guest, "la", 1, "lab@hostB")
    _vm(host_b, guest, "lb", 2, "lab@hostA")
    _create(rctys, "la", "hostA")
    _create(rctys, "lb", "hostB")
    assert Path(rt_a, "vde", "lab@hostB.link").exists()
    assert Path(rt_b, "vde", "lab@hostA.link").exists()
    status, out = _ping(host_a, "la", "10.9.0.2", wait=5)
    assert status == 0, out
    status, out = _ping(host_b, "lb", "10.9.0.1", wait=5)
    assert status == 0, out

    _cancel(rctys, "la", "hostA")
    _cancel(rctys, "lb", "hostB")
    _nothing_left(rt_a, rt_b)


@pytest.mark.skipif(not NETNS, reason="own network namespaces need root and iproute2")
def test_netns_hosts_reach_each_other_over_the_lan_and_leave_nothing() -> None:
    """Without guests: hostA's ssh to hostB goes to hostB's LAN address from hostA's own
    namespace (not loopback); a failure inside the ``with`` still removes every namespace
    and veth the hosts had."""
    with pytest.raises(RuntimeError, match="boom"), SshHosts() as hosts:
        host_a, host_b = hosts.add(2, reach_peers=True, netns=True)
        assert hosts.lan is not None
        made = [hosts.lan.uplink]
        names = list(hosts.lan.namespaces)
        assert {host_a.netns, host_b.netns} < set(names) <= set(netlan.netns_list())
        assert made[0] in netlan.links()
        hop = ("ssh", "-F", str(hosts.config), "hostB", "'echo $SSH_CONNECTION'")
        seen = subprocess.run(
            hosts.ssh_argv("hostA", *hop),
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert seen.returncode == 0, seen.stderr
        # SSH_CONNECTION on hostB: client address, client port, server address, port.
        client, _, server, port = seen.stdout.split()
        assert (client, server, port) == (host_a.address, host_b.address, str(host_b.port))
        raise RuntimeError("boom")
    assert set(names).isdisjoint(netlan.netns_list())
    assert made[0] not in netlan.links()


@pytest.mark.skipif(not NETNS, reason="own network namespaces need root and iproute2")
def test_a_lan_left_by_a_killed_run_is_swept_by_the_next() -> None:
    """A run killed before its teardown leaves its namespaces (and uplink veth); the next
    LAN removes them, and leaves the LANs of living processes alone."""
    code = (
        f"import sys, time; sys.path.insert(0, {str(Path(__file__).parent)!r}); import netlan; "
        "lan = netlan.NetLan(); lan.host(); print(lan.lan, lan.uplink, flush=True); "
        "time.sleep(120)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lan_name, uplink = proc.stdout.readline().split()
    finally:
        proc.kill()
        proc.wait()
    left = [n for n in netlan.netns_list() if n.startswith(lan_name[: -len("lan")])]
    assert len(left) == 2 and uplink in netlan.links()  # nobody cleaned up after it
    mine = NetLan()
    try:
        assert set(left).isdisjoint(netlan.netns_list())
        assert mine.lan in netlan.netns_list()  # a living process's LAN stays
        assert _wait_gone(lambda: [u for u in netlan.links() if u == uplink]) == []
    finally:
        mine.close()
    assert mine.lan not in netlan.netns_list() and mine.uplink not in netlan.links()
