"""Host side of guest networking: VDE switches ctys runs, and the rights tap/bridge need.

A named VDE network (``#@#VDENET = lab``) is one ``vde_switch`` per user, its files in
the runtime dir::

    <runtime>/vde/<name>.ctl/    control dir qemu plugs into (-netdev vde,sock=...)
    <runtime>/vde/<name>.mgmt    management socket (ports in use, shutdown)
    <runtime>/vde/<name>.pid     the switch's pid (written by vde_switch)
    <runtime>/vde/<name>.lock    held while a switch is started, checked or stopped

CREATE starts the switch when none runs (``switches_up``) and keeps its lock until qemu
has plugged in; CANCEL stops every switch ctys started that nothing uses any more
(``release_idle_switches``), and so does every CREATE, CANCEL and LIST before it starts
(``sweep_orphan_switches``): the switch of a VM that was killed or crashed goes too.
Switches given by path (``VDENET = /run/vde.ctl``) are never started or stopped.

A switch named with a peer (``VDENET = lab@hostB``) also gets a link to the switch of the
same name on that host (``ctys.plugins.qemu.net.vdelink``): started with the switch (or by
the first CREATE that names the peer), stopped before it; the link's own plug is no use.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import CtysError
from ctys.filelock import exclusive_lock, try_exclusive_lock
from ctys.invocation import Target
from ctys.plugins.qemu.net.network import NetMode, NetworkConfig, Nic, vde_dir
from ctys.plugins.qemu.net.procfile import is_live_program, live_pid
from ctys.plugins.qemu.net.vdelink import (
    ID_SUFFIX,
    VdeLink,
    link_processes,
    link_tools,
    start_link,
    stop_link,
    stop_links,
)
from ctys.rundir import ensure_private_dir

BRIDGE_HELPERS = (
    Path("/usr/lib/qemu/qemu-bridge-helper"),
    Path("/usr/libexec/qemu-bridge-helper"),
)
BRIDGE_ACL = Path("/etc/qemu/bridge.conf")
SYS_NET = Path("/sys/class/net")
TUN_DEVICE = Path("/dev/net/tun")
_START_TIMEOUT = 5.0
_STOP_TIMEOUT = 5.0


class NetworkSetupError(CtysError):
    """The host cannot give a VM the network its conf asks for."""


@dataclass(frozen=True)
class VdeSwitch:
    """The files of one managed switch."""

    name: str
    directory: Path

    @property
    def ctl(self) -> Path:
        return self.directory / f"{self.name}.ctl"

    @property
    def mgmt(self) -> Path:
        return self.directory / f"{self.name}.mgmt"

    @property
    def pidfile(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def lockfile(self) -> Path:
        return self.directory / f"{self.name}.lock"

    def pid(self) -> int | None:
        """The pid of this switch's living ``vde_switch``, else ``None``."""
        return live_pid(self.pidfile, "vde_switch", str(self.ctl))

    def running(self) -> bool:
        return self.pid() is not None and (self.ctl / "ctl").exists()


def _is_vde_switch(pid: int, ctl: Path) -> bool:
    """A living (not zombie) vde_switch serving ``ctl``: a recycled pid is no match."""
    return is_live_program(pid, "vde_switch", str(ctl))


def switch_lock(switch: VdeSwitch) -> contextlib.AbstractContextManager[None]:
    """Exclusive lock on one switch: start, idle check and stop never interleave."""
    return exclusive_lock(switch.lockfile)


def vde_switch_binary() -> str:
    """Path of ``vde_switch``; a clear error when vde2 is not installed."""
    found = shutil.which("vde_switch")
    if found is None:
        raise NetworkSetupError(
            "a VDE network needs vde_switch, which is not installed (Debian: apt-get install vde2)"
        )
    return found


def _remove_files(switch: VdeSwitch) -> None:
    shutil.rmtree(switch.ctl, ignore_errors=True)
    for path in (switch.mgmt, switch.pidfile, switch.directory / f"{switch.name}{ID_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def start_switch(switch: VdeSwitch, *, timeout: float = _START_TIMEOUT) -> int:
    """Start ``vde_switch`` daemon-style for ``switch`` (caller holds its lock); return its
    pid once its control and management sockets answer."""
    binary = vde_switch_binary()
    _remove_files(switch)  # leftovers of a switch that died
    argv = [
        binary,
        "-d",
        # Fast spanning tree: two links between the same two switches (hostA's VM names
        # lab@hostB, hostB's lab@hostA) are a loop that one blocked port breaks.
        "-F",
        "-s",
        str(switch.ctl),
        "-M",
        str(switch.mgmt),
        "--pidfile",
        str(switch.pidfile),
    ]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, start_new_session=True
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkSetupError(
            f"cannot start vde_switch for network {switch.name}: {exc}"
        ) from exc
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        why = lines[-1] if lines else f"exit status {done.returncode}"
        raise NetworkSetupError(f"vde_switch for network {switch.name} failed: {why}")
    # -d returns once forked; the pidfile and the management socket come a moment later.
    deadline = time.monotonic() + timeout
    while True:
        pid = switch.pid()
        if pid is not None and switch.mgmt.exists() and (switch.ctl / "ctl").exists():
            return pid
        if time.monotonic() >= deadline:
            raise NetworkSetupError(f"vde_switch for network {switch.name} did not come up")
        time.sleep(0.01)


def ensure_switch(switch: VdeSwitch) -> bool:
    """Make ``switch`` run (caller holds its lock); ``True`` when it was started now."""
    if switch.running():
        return False
    start_switch(switch)
    return True


def ensure_link(switch: VdeSwitch, peer: Target) -> VdeLink | None:
    """Make the running ``switch``'s link to ``peer`` run (caller holds the switch's
    lock); the link when it was started now."""
    if VdeLink.of(switch.name, peer, switch.directory).pid() is not None:
        return None
    return start_link(switch.name, peer, switch.directory)


@contextlib.contextmanager
def switches_up(
    names: Sequence[str], directory: Path, links: Sequence[tuple[str, Target]] = ()
) -> Iterator[list[str]]:
    """Run the managed switches ``names`` (and their ``links`` to other hosts) and hold
    their locks for the ``with`` body (start qemu inside it, so no CANCEL elsewhere stops a
    switch before qemu plugs in). Yields the names started now."""
    if not names:
        yield []
        return
    ensure_private_dir(directory)
    started: list[VdeSwitch] = []
    new_links: list[VdeLink] = []
    with contextlib.ExitStack() as stack:
        try:
            # One order for every caller: two CREATEs never wait on each other's locks.
            for name in sorted(set(names)):
                switch = VdeSwitch(name, directory)
                stack.enter_context(switch_lock(switch))
                if ensure_switch(switch):
                    started.append(switch)
                for peer in dict.fromkeys(p for n, p in links if n == name):
                    link = ensure_link(switch, peer)
                    if link is not None:
                        new_links.append(link)
            yield [s.name for s in started]
        except BaseException:
            # The VM did not start: a switch or link started for it alone goes again.
            for link in new_links:
                stop_link(link)
            for switch in started:
                if switch.running() and not switch_in_use(switch):
                    stop_switch(switch)
            raise


def _mgmt_command(mgmt: Path, command: str, timeout: float) -> str | None:
    """Send one command to a switch's management socket; its reply up to the status line,
    ``None`` when the switch does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(mgmt))
            _read_until(sock, b"vde$ ")  # banner and first prompt
            sock.sendall(command.encode() + b"\n")
            return _read_until(sock, b"vde$ ").decode(errors="replace")
    except OSError:
        return None


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while not data.endswith(marker):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


_ENDPOINT_PID = re.compile(r"\bpid=(\d+)\b")


def count_endpoints(allprint: str, alive: Callable[[int], bool] | None = None) -> int:
    """Endpoints plugged into a switch, from its ``port/allprint`` reply (an unplugged
    port stays listed as INACTIVE, without endpoint lines).

    An endpoint whose process (``pid=N``) is gone is not counted: vde_switch now and then
    keeps the endpoint of a plug killed with SIGKILL, and such a ghost would keep an idle
    switch running forever. An endpoint that names no pid counts (``alive``: whether a
    pid runs, default ``psutil.pid_exists``)."""
    if alive is None:
        import psutil

        alive = psutil.pid_exists
    count = 0
    for line in allprint.splitlines():
        if not line.strip().startswith("-- endpoint"):
            continue
        pid = _ENDPOINT_PID.search(line)
        if pid is None or alive(int(pid.group(1))):
            count += 1
    return count


def attached_endpoints(
    switch: VdeSwitch, *, timeout: float = 1.0, ignore: frozenset[int] = frozenset()
) -> int | None:
    """How many plugs (qemu NICs, vde_plug, ...) the switch has, not counting those of the
    processes ``ignore``; ``None`` if it is silent."""
    reply = _mgmt_command(switch.mgmt, "port/allprint", timeout)
    if reply is None or "1000 Success" not in reply:
        return None
    from ctys.plugins.qemu.vm.processes import process_running

    return count_endpoints(reply, lambda pid: pid not in ignore and process_running(pid))


def _referencing_processes(switch: VdeSwitch, own: set[int]) -> list[int]:
    """Processes other than the switch (and its links, ``own``) whose command line names
    its control dir: a qemu that is starting has not plugged in yet, but already says
    where it will."""
    import psutil

    ctl = str(switch.ctl)
    found: list[int] = []
    for proc in psutil.process_iter(["cmdline"], ad_value=None):
        argv = proc.info.get("cmdline") or []
        if proc.pid not in own and any(ctl in arg for arg in argv):
            with contextlib.suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc.pid)
    return found


def switch_in_use(switch: VdeSwitch) -> bool:
    """Whether anything still uses a running switch; its own links to other hosts do not."""
    links = frozenset(link_processes(switch.name, switch.directory))
    endpoints = attached_endpoints(switch, ignore=links)
    if endpoints:
        return True
    own = {*links, switch.pid() or 0}
    return bool(_referencing_processes(switch, own))


def stop_switch(switch: VdeSwitch, *, timeout: float = _STOP_TIMEOUT) -> None:
    """Stop a managed switch (caller holds its lock), its links first, and remove its
    files."""
    stop_links(switch.name, switch.directory)
    pid = switch.pid()
    if pid is not None:
        # The switch's own shutdown removes its sockets; SIGTERM when it does not answer.
        if _mgmt_command(switch.mgmt, "shutdown", 1.0) is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _is_vde_switch(pid, switch.ctl) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _is_vde_switch(pid, switch.ctl):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    _remove_files(switch)


def managed_switches(directory: Path) -> list[VdeSwitch]:
    """Every switch ctys has files for under ``directory`` (running or stale)."""
    if not directory.is_dir():
        return []
    names = {p.name[: -len(".pid")] for p in directory.glob("*.pid")}
    names |= {p.name[: -len(".ctl")] for p in directory.glob("*.ctl")}
    return [VdeSwitch(name, directory) for name in sorted(names)]


def release_idle_switches(directory: Path, *, wait: bool = True) -> list[str]:
    """Stop every managed switch under ``directory`` that no VM uses any more (and clear
    the files of dead ones); the names of the switches stopped. With ``wait=False`` a
    switch whose lock is held (a CREATE is plugging a VM in) is left alone."""
    stopped: list[str] = []
    for switch in managed_switches(directory):
        # A switch that cannot be handled now is left for the next sweep.
        with contextlib.suppress(OSError), _idle_check_lock(switch, wait) as held:
            if not held:
                continue
            if not switch.running():
                stop_links(switch.name, switch.directory)
                _remove_files(switch)
                continue
            if switch_in_use(switch):
                continue
            stop_switch(switch)
            stopped.append(switch.name)
    return stopped


@contextlib.contextmanager
def _idle_check_lock(switch: VdeSwitch, wait: bool) -> Iterator[bool]:
    if wait:
        with switch_lock(switch):
            yield True
    else:
        with try_exclusive_lock(switch.lockfile, create=True) as held:
            yield held


def sweep_orphan_switches(runtime_root: Path, *, wait: bool = False) -> list[str]:
    """Stop the switches of ``runtime_root`` left by VMs that ended without CANCEL (killed,
    crashed): every ctys command that uses the runtime dir calls this (CANCEL again, with
    ``wait``, after it stopped its VMs). Cheap when no VDE network was ever used (no
    ``vde`` folder: no process scan); without ``wait`` it never waits for a switch another
    ctys is working on."""
    directory = vde_dir(runtime_root)
    if not directory.is_dir():
        return []
    return release_idle_switches(directory, wait=wait)


# --- tap and bridge: rights checked before qemu starts ---------------------------------


def _acl_rules(acl: Path, depth: int = 0) -> list[tuple[str, str]] | None:
    """The ``(verb, name)`` rules of an ACL file with its ``include`` files inlined."""
    try:
        lines = acl.read_text().splitlines()
    except OSError:
        return None
    rules: list[tuple[str, str]] = []
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) != 2:
            continue
        if words[0] == "include":
            if depth < 8:
                rules += _acl_rules(Path(words[1]), depth + 1) or []
        else:
            rules.append((words[0], words[1]))
    return rules


def bridge_acl_allows(bridge: str, acl: Path) -> bool | None:
    """What ``qemu-bridge-helper``'s ACL file says about ``bridge``: some ``allow`` line
    (``allow br0`` or ``allow all``) and no ``deny`` line for it (a deny always wins, as in
    the helper). ``None`` when the file cannot be read (it may be root's only)."""
    rules = _acl_rules(acl)
    if rules is None:
        return None
    allowed = any(verb == "allow" and name in ("all", bridge) for verb, name in rules)
    denied = any(verb == "deny" and name in ("all", bridge) for verb, name in rules)
    return allowed and not denied


def check_bridge(
    bridge: str,
    *,
    sys_net: Path = SYS_NET,
    helpers: Sequence[Path] = BRIDGE_HELPERS,
    acl: Path = BRIDGE_ACL,
    euid: int | None = None,
) -> None:
    """Refuse, with what to do, a bridge this user cannot join through qemu-bridge-helper."""
    euid = os.geteuid() if euid is None else euid
    if not (sys_net / bridge / "bridge").is_dir():
        raise NetworkSetupError(
            f"BRIDGE {bridge}: no such bridge on this host"
            f" (as root: ip link add {bridge} type bridge)"
        )
    helper = next((h for h in helpers if h.exists()), None)
    if helper is None:
        raise NetworkSetupError(f"BRIDGE {bridge}: qemu-bridge-helper is not installed")
    info = helper.stat()
    if euid != 0 and not (info.st_mode & stat.S_ISUID and info.st_uid == 0):
        raise NetworkSetupError(
            f"BRIDGE {bridge}: {helper} is not setuid root, so only root may attach VMs to a"
            f" bridge (as root: chmod u+s {helper}; or use NETMODE user or vde)"
        )
    verdict = bridge_acl_allows(bridge, acl)
    if verdict is False or (verdict is None and not acl.exists()):
        raise NetworkSetupError(
            f"BRIDGE {bridge}: {acl} does not allow it (as root: echo 'allow {bridge}' >> {acl})"
        )


def check_tap(
    tap: str, *, sys_net: Path = SYS_NET, tun: Path = TUN_DEVICE, euid: int | None = None
) -> None:
    """Refuse, with what to do, a tap device this user cannot open."""
    euid = os.geteuid() if euid is None else euid
    if not os.access(tun, os.R_OK | os.W_OK):
        raise NetworkSetupError(f"TAP {tap}: no read/write access to {tun}")
    device = sys_net / tap
    if not device.exists():
        if euid == 0:
            return  # qemu creates it (unconfigured: script=no)
        raise NetworkSetupError(
            f"TAP {tap}: no such device (as root: ip tuntap add dev {tap} mode tap user <you>)"
        )
    if euid == 0:
        return
    try:
        owner = int((device / "owner").read_text().strip())
    except (OSError, ValueError):
        raise NetworkSetupError(f"TAP {tap}: {tap} is not a tap device") from None
    if owner not in (-1, euid):
        raise NetworkSetupError(f"TAP {tap}: the device belongs to uid {owner}, not to you")


def check_host_network(net: NetworkConfig) -> None:
    """Everything a VM's NICs need from the host, checked before anything starts."""
    for nic in net.nics:
        _check_nic(nic)


def _check_nic(nic: Nic) -> None:
    if nic.mode is NetMode.BRIDGE and nic.bridge is not None:
        check_bridge(nic.bridge)
    elif nic.mode is NetMode.TAP and nic.tap is not None:
        check_tap(nic.tap)
    elif nic.mode is NetMode.VDE and nic.vde is not None:
        if nic.vde.managed:
            vde_switch_binary()
            if nic.vde.peer is not None:
                link_tools()
        elif nic.vde.ctl is not None and not (nic.vde.ctl / "ctl").exists():
            raise NetworkSetupError(f"VDENET: no VDE switch runs at {nic.vde.ctl}")
