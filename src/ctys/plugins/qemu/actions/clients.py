"""The clients of a running managed VM: the process attached to its serial console (the
holder of ``console.lock``), the terminal consoles running ``ctys ... VMID:<id>,CONNECT``
and the VNC viewers open on its server. CREATE's ``RECONNECT`` closes them (SIGTERM)
before it connects anew, as the original killed the VM's CLIENT sessions; only your own
processes are looked at, and never this one or its parents."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil

from ctys.consoles.serial import console_lock_path
from ctys.plugins.qemu.vm.runtime import RuntimeRecord, VmRuntimeDir
from ctys.plugins.qemu.vncaddr import record_vnc


@dataclass(frozen=True)
class Client:
    pid: int
    name: str


def console_holder(rundir: VmRuntimeDir) -> int | None:
    """The pid attached to the VM's serial console, when one is (its lock is held)."""
    lock = console_lock_path(rundir.console)
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # nobody holds it: nobody is attached
    finally:
        os.close(fd)


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


def find_clients(rundir: VmRuntimeDir, record: RuntimeRecord) -> list[Client]:
    """The VM's clients (see the module docstring), the console's attacher first."""
    me = os.getpid()
    spared = {me, *(p.pid for p in psutil.Process(me).parents())}
    found: list[Client] = []
    holder = console_holder(rundir)
    if holder is not None and holder not in spared:
        found.append(Client(holder, "serial console"))
    markers = client_markers(record)
    qemu_marker = (str(rundir.qmp),)
    uid = os.getuid()
    for proc in psutil.process_iter(["pid", "uids", "cmdline", "name"]):
        info = proc.info
        if info["pid"] in spared or info["pid"] == record.pid or info["pid"] == holder:
            continue
        if info["uids"] is None or info["uids"].real != uid or not info["cmdline"]:
            continue
        # The VM's own qemu names its socket too; it is the one process with its QMP path.
        if is_client(info["cmdline"], markers) and not is_client(info["cmdline"], qemu_marker):
            found.append(Client(info["pid"], info["name"] or "?"))
    return found


def close_clients(clients: Sequence[Client]) -> list[Client]:
    """SIGTERM each client; the ones signalled (a gone one is skipped)."""
    closed = []
    for client in clients:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(client.pid, signal.SIGTERM)
            closed.append(client)
    return closed
