"""The private runtime dir: one folder per managed VM with its sockets, pid and state.

Layout (all under a dir of mode 0700 owned by the user)::

    <runtime>/vms/<vmid>/state.json    RuntimeRecord as JSON
    <runtime>/vms/<vmid>/qemu.pid      written by qemu (-pidfile)
    <runtime>/vms/<vmid>/qmp.sock      QMP monitor (QEMUMONSOCK)
    <runtime>/vms/<vmid>/console.sock  serial console (CLI consoles)
    <runtime>/vms/<vmid>/console.log   everything the serial console printed
    <runtime>/vms/<vmid>/vnc.sock      VNC server (unless a TCP port was asked for)
    <runtime>/vms/<vmid>/vnc.pass      generated VNC password of a TCP port (0600)
    <runtime>/locks/<vmid>.lock        held while a VM is being started

When a VM folder is removed its qemu.log and console.log are kept
(``ctys.plugins.qemu.vm.runlogs``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ctys.errors import CtysError
from ctys.filelock import exclusive_lock, try_exclusive_lock
from ctys.plugins.qemu.vm.runlogs import keep_logs
from ctys.privfile import write_private_text
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
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RuntimeRecord:
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
        """Write state.json atomically (temp file + rename); ``CtysError`` when the disk
        is full or the folder is gone."""
        try:
            # A full disk: the old record (if any) stays whole, no half temp file is left.
            write_private_text(self.state, record.to_json())
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
        they went."""
        kept = keep_logs(self.path)
        shutil.rmtree(self.path, ignore_errors=True)
        return kept


# A UNIX socket's path fits in sun_path: 108 bytes on Linux, with the terminating NUL.
_SOCKET_PATH_MAX = 107


def check_socket_paths(vmdir: VmRuntimeDir) -> None:
    """``CtysError`` when the VM's sockets (QMP, console, VNC) would not fit a UNIX socket
    address; QEMU's own error names no path."""
    longest = max((vmdir.qmp, vmdir.console, vmdir.vnc_socket), key=lambda p: len(bytes(p)))
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
        vmdir.remove()
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
