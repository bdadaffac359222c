"""CANCEL's CLIENT part: the viewers and console attachers of one VM, found and closed.

A client is a process of this user connected to one of the VM's sockets: its serial
console or VNC UNIX socket in the runtime folder (found with ``ss -xp``: the peer of each
connection qemu accepted there), or its VNC TCP port (psutil's connections). That covers a
``CREATE=...,CONNECT`` attacher, a VNC viewer and a terminal window's ctys alike; the qemu
itself and this ctys (and its parents) are never clients.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from ctys.errors import CtysError
from ctys.plugins.qemu.vm import lifecycle
from ctys.plugins.qemu.vm.runtime import RuntimeRecord, VmRuntimeDir
from ctys.runcmd import run_command

CLOSE_GRACE = 3.0  # seconds a client has after SIGTERM before SIGKILL
_PID = re.compile(r"pid=(\d+)")


@dataclass(frozen=True)
class Client:
    pid: int
    name: str


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


def _not_clients(qemu_pid: int) -> set[int]:
    """The qemu, and this process with its ancestors (a CANCEL run from the VM's own
    console window must not close that window before it has done its work)."""
    own = {qemu_pid, os.getpid()}
    with contextlib.suppress(psutil.Error):
        own |= {p.pid for p in psutil.Process().parents()}
    return own


def find_clients(rundir: VmRuntimeDir, record: RuntimeRecord, qemu_pid: int) -> list[Client]:
    """The processes of this user attached to the VM's console or VNC server."""
    paths = {str(rundir.console), str(rundir.vnc_socket)}
    if record.vnc_socket:
        paths.add(record.vnc_socket)
    try:
        text = run_command(["ss", "-xpnH"], timeout=5.0)
    except CtysError:
        text = ""  # no ss: only TCP viewers are found
    pids = unix_peers(parse_ss(text), paths)
    if record.vnc_display is not None:
        pids |= _tcp_peers(record.vnc_host, 5900 + record.vnc_display)
    clients = []
    for pid in sorted(pids - _not_clients(qemu_pid)):
        try:
            proc = psutil.Process(pid)
            if proc.uids().real != os.getuid():
                continue
            clients.append(Client(pid, proc.name()))
        except psutil.Error:
            continue
    return clients


def close_clients(clients: Iterable[Client]) -> list[str]:
    """SIGTERM each client, SIGKILL the ones still there after ``CLOSE_GRACE``; one
    phrase per client (``vncviewer (pid 12)``)."""
    closed = []
    for client in clients:
        try:
            os.kill(client.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        if not lifecycle.wait_exit(client.pid, CLOSE_GRACE):
            with contextlib.suppress(ProcessLookupError):
                os.kill(client.pid, signal.SIGKILL)
        closed.append(f"{client.name} (pid {client.pid})")
    return closed
