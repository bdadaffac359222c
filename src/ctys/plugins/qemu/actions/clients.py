"""The clients of a running managed VM, found and closed: CANCEL's CLIENT|BOTH and
CREATE's RECONNECT (the original killed the VM's CLIENT sessions).

A client is a process of this user that is

- connected to one of the VM's sockets: its serial console or VNC UNIX socket in the
  runtime folder (found with ``ss -xp``: the peer of each connection qemu accepted there)
  or its VNC TCP port (psutil's connections);
- the holder of the serial console's ``console.lock`` (a ``CREATE=...,CONNECT`` attacher);
- or a program whose command line names the VM: a terminal console running
  ``ctys ... VMID:<id>,CONNECT``, a VNC viewer given its socket or address (also one that
  has not connected yet).

The VM's qemu and this ctys with its parents (a CANCEL run from the VM's own console window
must not close that window before it has done its work) are never clients.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ctys.consoles.owner import console_owner
from ctys.consoles.serial import console_lock_path
from ctys.errors import CtysError
from ctys.plugins.qemu.vm import lifecycle
from ctys.plugins.qemu.vm.runtime import RuntimeRecord, VmRuntimeDir
from ctys.plugins.qemu.vncaddr import record_vnc
from ctys.runcmd import run_command

CLOSE_GRACE = 3.0  # seconds a client has after SIGTERM before SIGKILL
_PID = re.compile(r"pid=(\d+)")


@dataclass(frozen=True)
class Client:
    pid: int
    name: str

    def describe(self) -> str:
        """``vncviewer (pid 12)``."""
        return f"{self.name} (pid {self.pid})"


@dataclass(frozen=True)
class UnixSocketRow:
    """One line of ``ss -xpn``: a socket's own path (or ``*``) and inode, its peer's
    inode, and the pids that hold it."""

    path: str
    inode: int
    peer: int
    pids: tuple[int, ...]


def parse_ss(text: str) -> list[UnixSocketRow]:
    """``ss -xpnH`` output → rows (lines it cannot read are skipped)."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8 or not fields[5].isdigit() or not fields[7].isdigit():
            continue
        pids = tuple(int(p) for p in _PID.findall(" ".join(fields[8:])))
        rows.append(UnixSocketRow(fields[4], int(fields[5]), int(fields[7]), pids))
    return rows


def unix_peers(rows: Iterable[UnixSocketRow], paths: set[str]) -> set[int]:
    """The pids at the other end of the connections accepted on ``paths``."""
    rows = list(rows)
    peers = {row.peer for row in rows if row.path in paths and row.peer}
    return {pid for row in rows if row.inode in peers for pid in row.pids}


def _tcp_peers(host: str, port: int) -> set[int]:
    import psutil  # the connections and process tree: CREATE/CANCEL of a VM only

    pids = set()
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return set()
    for conn in conns:
        raddr = conn.raddr
        if conn.pid and raddr and raddr.port == port and raddr.ip in (host, "127.0.0.1", "::1"):
            pids.add(conn.pid)
    return pids


def console_holder(rundir: VmRuntimeDir) -> int | None:
    """The pid attached to the VM's serial console, when one is (its lock is held)."""
    owner = console_owner(console_lock_path(rundir.console))
    return owner.pid if owner is not None and owner.pid > 0 else None


def client_markers(record: RuntimeRecord) -> tuple[str, ...]:
    """Words in a client's command line that name this VM: its terminal console's CONNECT,
    its VNC socket, or its TCP VNC address as the viewers write it."""
    markers = [f"VMID:{record.vmid},CONNECT"]
    spec = record_vnc(record)
    if spec is not None and spec.unix_path:
        markers.append(spec.unix_path)
    elif spec is not None and spec.port is not None:
        host = record.vnc_host
        markers += [f"{host}::{spec.port}", f"vnc://{host}:{spec.port}"]
    return tuple(markers)


def is_client(cmdline: Sequence[str], markers: Iterable[str]) -> bool:
    """Whether a command line names one of ``markers`` (in one of its words)."""
    return any(marker in word for word in cmdline for marker in markers)


def _not_clients(qemu_pid: int | None) -> set[int]:
    """The qemu, and this process with its ancestors."""
    import psutil

    own = {os.getpid()} | ({qemu_pid} if qemu_pid else set())
    with contextlib.suppress(psutil.Error):
        own |= {p.pid for p in psutil.Process().parents()}
    return own


def _connected(rundir: VmRuntimeDir, record: RuntimeRecord) -> set[int]:
    """The pids connected to the VM's console/VNC sockets or its VNC TCP port."""
    paths = {str(rundir.console), str(rundir.vnc_socket)}
    if record.vnc_socket:
        paths.add(record.vnc_socket)
    try:
        text = run_command(["ss", "-xpnH"], timeout=5.0)
    except CtysError:
        text = ""  # no ss: the other ways still find them
    pids = unix_peers(parse_ss(text), paths)
    if record.vnc_display is not None:
        pids |= _tcp_peers(record.vnc_host, 5900 + record.vnc_display)
    return pids


def _naming_the_vm(rundir: VmRuntimeDir, record: RuntimeRecord) -> set[int]:
    """This user's processes whose command line names the VM (not its qemu: the one
    process that names its QMP path)."""
    import psutil

    markers = client_markers(record)
    qemu_marker = (str(rundir.qmp),)
    uid = os.getuid()
    pids = set()
    for proc in psutil.process_iter(["pid", "uids", "cmdline"]):
        info = proc.info
        if info["uids"] is None or info["uids"].real != uid or not info["cmdline"]:
            continue
        if is_client(info["cmdline"], markers) and not is_client(info["cmdline"], qemu_marker):
            pids.add(info["pid"])
    return pids


def find_clients(
    rundir: VmRuntimeDir, record: RuntimeRecord, qemu_pid: int | None = None
) -> list[Client]:
    """The VM's clients (see the module docstring), the console's attacher first."""
    import psutil

    spared = _not_clients(qemu_pid or record.pid)
    holder = console_holder(rundir)
    first = [holder] if holder is not None and holder not in spared else []
    others = (_connected(rundir, record) | _naming_the_vm(rundir, record)) - spared - set(first)
    clients = []
    for pid in first + sorted(others):
        try:
            proc = psutil.Process(pid)
            if proc.uids().real != os.getuid():
                continue
            clients.append(Client(pid, "serial console" if pid == holder else proc.name()))
        except psutil.Error:
            continue
    return clients


def close_clients(clients: Iterable[Client]) -> list[Client]:
    """SIGTERM each client, SIGKILL the ones still there after ``CLOSE_GRACE``; the ones
    closed (one already gone is skipped)."""
    closed = []
    for client in clients:
        try:
            os.kill(client.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue
        if not lifecycle.wait_exit(client.pid, CLOSE_GRACE):
            with contextlib.suppress(ProcessLookupError):
                os.kill(client.pid, signal.SIGKILL)
        closed.append(client)
    return closed
