"""The private runtime dir: one folder per managed VM with its sockets, pid and state.

Layout (all under a dir of mode 0700 owned by the user)::

    <runtime>/vms/<vmid>/state.json    RuntimeRecord as JSON
    <runtime>/vms/<vmid>/qemu.pid      written by qemu (-pidfile)
    <runtime>/vms/<vmid>/qmp.sock      QMP monitor (QEMUMONSOCK)
    <runtime>/vms/<vmid>/events.sock   second QMP monitor, events only: WATCH's alone
    <runtime>/vms/<vmid>/console.sock  serial console (CLI consoles)
    <runtime>/vms/<vmid>/console.log   everything the serial console printed
    <runtime>/vms/<vmid>/vnc.sock      VNC server (unless a TCP port was asked for)
    <runtime>/vms/<vmid>/vnc.pass      generated VNC password of a TCP port (0600)
    <runtime>/vms/<vmid>/fs<n>.sock    virtiofsd of SHARE<n> (and its fs<n>.pid, fs<n>.log)
    <runtime>/locks/<vmid>.lock        held while a VM is being started

When a VM folder is removed its qemu.log and console.log are kept
(``ctys.plugins.qemu.vm.runlogs``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from ctys.errors import CtysError
from ctys.filelock import exclusive_lock, try_exclusive_lock
from ctys.plugins.qemu.vm.processes import (
    QemuProcess,
    read_qemu_process,
    references_dir,
    scan_qemu_processes,
)
from ctys.rundir import ensure_private_dir, runtime_root


@dataclass
class RuntimeRecord:
    """What ctys knows about a VM it started (``state.json``)."""

    vmid: str
    label: str
    conf: str
    uuid: str | None = None
    mac: str | None = None  # the conf's MAC and IP when it started (addresses match them)
    ip: str | None = None
    pid: int | None = None
    binary: str = ""
    accelerator: str = ""
    console: str = ""  # CONSOLE mode: CLI, CLI0, VNC, SDL, XTERM, ...
    vnc_display: int | None = None  # TCP display (port 5900 + display) on vnc_host
    vnc_host: str = "127.0.0.1"
    vnc_socket: str | None = None  # the VNC server's UNIX socket (the private default)
    started: float = 0.0
    argv: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        import json  # with the first record: LIST with no VM reads none

        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RuntimeRecord:
        import json

        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class VmRuntimeDir:
    """Paths of one VM's runtime folder."""

    path: Path

    @property
    def vmid(self) -> str:
        return self.path.name

    @property
    def state(self) -> Path:
        return self.path / "state.json"

    @property
    def pidfile(self) -> Path:
        return self.path / "qemu.pid"

    @property
    def qmp(self) -> Path:
        return self.path / "qmp.sock"

    @property
    def events(self) -> Path:
        """The event-only QMP monitor: WATCH holds its one client connection (QEMU serves
        one client per monitor), so no other reader may connect to it."""
        return self.path / "events.sock"

    @property
    def console(self) -> Path:
        return self.path / "console.sock"

    @property
    def vnc_socket(self) -> Path:
        # As short as qmp.sock: a path that fits sun_path for one fits for the other.
        return self.path / "vnc.sock"

    @property
    def vnc_password(self) -> Path:
        return self.path / "vnc.pass"

    @property
    def console_log(self) -> Path:
        return self.path / "console.log"

    @property
    def qemu_log(self) -> Path:
        return self.path / "qemu.log"

    def read_record(self) -> RuntimeRecord | None:
        try:
            return RuntimeRecord.from_json(self.state.read_text())
        except (OSError, ValueError, TypeError):
            return None

    def write_record(self, record: RuntimeRecord) -> None:
        """Write state.json atomically (temp file + rename, 0600); ``CtysError`` when the
        disk is full or the folder is gone. Not fsynced: the record describes a process,
        which a crash of the machine ends too (CREATE writes it before every launch)."""
        try:
            from ctys.privfile import write_private_text

            # A full disk: the old record (if any) stays whole, no half temp file is left.
            write_private_text(self.state, record.to_json(), durable=False)
        except OSError as err:
            raise CtysError(f"cannot write {self.state}: {err.strerror or err}") from err

    def read_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def remove(self) -> Path | None:
        """Delete the folder; its logs are kept first (``ctys.plugins.qemu.vm.runlogs``)
        wherever a folder goes: CANCEL, a failed start, a stale folder sweep. Returns where
        they went. Share daemons (virtiofsd) still running for it are stopped first."""
        import shutil

        from ctys.plugins.qemu.vm.runlogs import keep_logs
        from ctys.plugins.qemu.vm.sidecars import stop_sidecars

        stop_sidecars(self.path)
        kept = keep_logs(self.path)
        shutil.rmtree(self.path, ignore_errors=True)
        return kept


# A UNIX socket's path fits in sun_path: 108 bytes on Linux, with the terminating NUL.
_SOCKET_PATH_MAX = 107


def check_socket_paths(vmdir: VmRuntimeDir) -> None:
    """``CtysError`` when the VM's sockets (QMP, events, console, VNC) would not fit a UNIX
    socket address; QEMU's own error names no path."""
    sockets = (vmdir.qmp, vmdir.events, vmdir.console, vmdir.vnc_socket)
    longest = max(sockets, key=lambda p: len(bytes(p)))
    if len(bytes(longest)) > _SOCKET_PATH_MAX:
        raise CtysError(
            f"runtime dir {vmdir.path.parent.parent} is too deep for UNIX sockets ({longest}"
            f" has {len(bytes(longest))} bytes, at most {_SOCKET_PATH_MAX});"
            " set CTYS_RUNTIME_DIR to a shorter folder"
        )


class RuntimeDir:
    """The user's runtime root and the VM folders in it."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else runtime_root()
        if root is not None:
            ensure_private_dir(root)

    def vm(self, vmid: str) -> VmRuntimeDir:
        return VmRuntimeDir(self.root / "vms" / vmid)

    def create_vm_dir(self, vmid: str) -> VmRuntimeDir:
        """A fresh, empty folder for a VM about to start (old leftovers removed)."""
        vmdir = self.vm(vmid)
        check_socket_paths(vmdir)
        if vmdir.path.exists() or vmdir.path.is_symlink():
            vmdir.remove()  # a stale folder: its logs are kept, its daemons stopped
        ensure_private_dir(self.root / "vms")
        try:
            vmdir.path.mkdir(mode=0o700)
        except OSError as err:
            raise CtysError(f"cannot create {vmdir.path}: {err.strerror or err}") from err
        return vmdir

    def all_vms(self) -> Iterator[VmRuntimeDir]:
        base = self.root / "vms"
        if not base.is_dir():
            return
        for entry in sorted(base.iterdir()):
            if entry.is_dir():
                yield VmRuntimeDir(entry)

    def start_lock(self, vmid: str) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock held while a VM is checked and started: concurrent CREATEs of
        one VM serialise here, so exactly one of them starts it."""
        return self.lock(vmid)

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold ``<runtime>/locks/<name>.lock`` (the folder made 0700), waiting for it."""
        locks = self.root / "locks"
        ensure_private_dir(locks)
        with exclusive_lock(locks / f"{name}.lock"):
            yield

    def try_start_lock(self, vmid: str) -> contextlib.AbstractContextManager[bool]:
        """The start lock without waiting: yields False while a CREATE of ``vmid`` holds it.
        Readers (LIST, CANCEL) use it never to block on a start and never to remove the
        folder of a VM being started."""
        return try_exclusive_lock(self.root / "locks" / f"{vmid}.lock")


# --- the runtime-dir scan: one rule for every reader ------------------------------------


class EntryState(Enum):
    """What one VM folder under ``<runtime>/vms`` is, by the one stale rule."""

    RUNNING = "running"  # its record reads and its qemu lives
    UNREADABLE = "unreadable"  # its qemu lives but its record does not read: kept, reported
    STARTING = "starting"  # no living qemu, but a CREATE holds its start lock: left alone
    STALE = "stale"  # no living qemu and nobody starting it: removed (logs kept)


@dataclass(frozen=True)
class VmEntry:
    """One VM folder as the scan found it."""

    rundir: VmRuntimeDir
    state: EntryState
    record: RuntimeRecord | None = None
    process: QemuProcess | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def problem(self) -> str | None:
        """The one line a reader reports about this folder (``None``: nothing to say)."""
        if self.state is not EntryState.UNREADABLE:
            return None
        return (
            f"ctys: runtime record {self.rundir.state} is unreadable, but its qemu (pid"
            f" {self.pid}) still runs; its folder is left alone (CANCEL=VMID:{self.pid},FORCE"
            " stops it)"
        )


def living_qemu(
    pid: int | None, rundir: VmRuntimeDir, snapshot: Mapping[int, QemuProcess] | None = None
) -> QemuProcess | None:
    """The living qemu ``pid`` of ``rundir``: from ``snapshot`` (a process table read
    earlier), else read now (it may have started after the snapshot). A pid reused by a
    process whose command line does not name this folder (another program, another VM) is
    no match."""
    if pid is None:
        return None
    proc = snapshot.get(pid) if snapshot is not None else None
    if proc is not None and references_dir(proc, rundir.path):
        return proc
    fresh = read_qemu_process(pid)
    return fresh if fresh is not None and references_dir(fresh, rundir.path) else None


def _qemu_naming(
    rundir: VmRuntimeDir, snapshot: Mapping[int, QemuProcess] | None
) -> QemuProcess | None:
    """Any living qemu whose command line names ``rundir`` (a folder that knows no pid)."""
    procs = snapshot.values() if snapshot is not None else scan_qemu_processes()
    return next((p for p in procs if references_dir(p, rundir.path)), None)


def inspect_vm(
    runtime: RuntimeDir,
    rundir: VmRuntimeDir,
    snapshot: Mapping[int, QemuProcess] | None = None,
) -> VmEntry:
    """The one stale rule for one VM folder. Its qemu is the pid of its record, else of
    qemu's pidfile, when that process is a qemu naming the folder (an unreadable record:
    any qemu naming it). A living qemu keeps the folder (its sockets), readable record or
    not; without one the folder is removed unless a CREATE holds its start lock."""
    record = rundir.read_record()
    pid = (record.pid if record else None) or rundir.read_pid()
    proc = living_qemu(pid, rundir, snapshot)
    if proc is None and record is None:
        proc = _qemu_naming(rundir, snapshot)
    if proc is not None:
        state = EntryState.RUNNING if record is not None else EntryState.UNREADABLE
        return VmEntry(rundir, state, record, proc)
    with runtime.try_start_lock(rundir.vmid) as free:
        if not free:
            return VmEntry(rundir, EntryState.STARTING, record)
        rundir.remove()
    return VmEntry(rundir, EntryState.STALE, record)


def scan_runtime(
    runtime: RuntimeDir, snapshot: Mapping[int, QemuProcess] | None = None
) -> Iterator[VmEntry]:
    """Every VM folder of ``runtime`` by ``inspect_vm``'s rule (stale ones removed on the
    way): LIST, CANCEL, CREATE's checks, the ``IP:`` address and placement all read the
    runtime dir through this."""
    for rundir in runtime.all_vms():
        yield inspect_vm(runtime, rundir, snapshot)
