"""The VNC side of a VM: where QEMU's server listens, its password, a fixed port's check,
and what CREATE, CONNECT and LIST say about it.

Private by default: the server listens on a UNIX socket in the VM's 0700 runtime folder,
which only its owner can open. A TCP port (VNCBIND, or VNCPORT in the conf) is reachable
by every local user, so it always asks for a password: VNCPASS, or a random one kept
0600 in the runtime folder and shown only by CONNECT/REUSE (to the owner, the only one who
can read it). A password is never on a command line, in the record, LIST or a log.
"""

from __future__ import annotations

import errno
import os
import shutil
import string
from collections.abc import Sequence
from pathlib import Path

from ctys.consoles.kinds import ConsoleKind, has_display
from ctys.consoles.launchers import (
    Geometry,
    Which,
    console_argv,
    find_vnc_viewer,
    launch_detached,
)
from ctys.errors import CtysError, UsageError, VmError, VmStateError
from ctys.plugins.qemu.requests import CreateRequest, SecretFrom
from ctys.plugins.qemu.vm import SESSION_TYPE
from ctys.plugins.qemu.vm.cmdline import VncSpec, parse_vnc, split_opts
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runtime import RuntimeRecord, VmRuntimeDir
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.plugins.qemu.vncaddr import query_vnc, record_vnc

DEFAULT_TCP_HOST = "127.0.0.1"
_PASSWORD_CHARS = string.ascii_letters + string.digits
_PASSWORD_LENGTH = 8  # all that VNC authentication reads


def tcp_listen(vm: VmConfig, req: CreateRequest) -> str | None:
    """The address of the TCP port the user asked for (``VNCBIND``, or ``VNCPORT`` in the
    conf on 127.0.0.1); ``None``: the private UNIX socket."""
    if req.vnc_listen is not None:
        return req.vnc_listen
    return DEFAULT_TCP_HOST if vm.vncport is not None else None


def check_vnc_viewer(vm: VmConfig, req: CreateRequest, which: Which = shutil.which) -> None:
    """CONSOLE:VNC on a display needs a viewer that can open the VM's server (on the
    private socket: one that opens a UNIX socket); ``CtysError`` before anything boots."""
    if req.console is ConsoleKind.VNC and has_display():
        find_vnc_viewer(which, unix_socket=tcp_listen(vm, req) is None)


def read_vnc_password(req: CreateRequest) -> str | None:
    """The VNCPASS secret, read before booting from the environment or a file (never from
    the command line, which every user can read)."""
    source = req.vnc_password
    if source is None:
        return None
    if not req.console.prepares_vnc:
        raise UsageError(f"VNCPASS needs a VNC server; CONSOLE:{req.console.value} has none")
    if source.origin is SecretFrom.ENV:
        secret = os.environ.get(source.ref)
        if secret is None:
            raise CtysError(f"VNCPASS: environment variable {source.ref} is not set")
    else:
        try:
            secret = Path(source.ref).expanduser().read_text().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not text"
            raise CtysError(f"VNCPASS: cannot read {source.ref}: {reason}") from exc
    if not 1 <= len(secret) <= 8:
        raise CtysError("VNCPASS: a VNC password has 1 to 8 characters (VNC reads no more)")
    return secret


def vnc_password(
    vm: VmConfig, req: CreateRequest, rundir: VmRuntimeDir, given: str | None
) -> str | None:
    """The password the VNC server will ask for: ``given`` (VNCPASS); else, for a TCP
    port, a new random one written 0600 to the runtime folder; else (the private socket)
    none."""
    if given is not None or not req.console.prepares_vnc or tcp_listen(vm, req) is None:
        return given
    import secrets  # (random, hmac, base64: only a generated password pays for them)

    secret = "".join(secrets.choice(_PASSWORD_CHARS) for _ in range(_PASSWORD_LENGTH))
    try:
        fd = os.open(rundir.vnc_password, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
    except OSError as exc:
        raise CtysError(f"cannot write {rundir.vnc_password}: {exc.strerror}") from exc
    return secret


def read_generated_password(rundir: VmRuntimeDir) -> str | None:
    """The generated password of a VM's TCP port, if it has one (readable by its owner only)."""
    try:
        return rundir.vnc_password.read_text().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def with_vnc_password(argv: list[str]) -> list[str]:
    """``-vnc ...,password=on``: QEMU refuses every VNC client until QMP sets the password."""
    at = argv.index("-vnc") + 1
    return [*argv[:at], f"{argv[at]},password=on", *argv[at + 1 :]]


def check_vnc_port_free(vm: VmConfig, req: CreateRequest) -> None:
    """A fixed VNCPORT that is taken fails before booting, naming the TCP port (QEMU's own
    error names only the display number)."""
    if vm.vncport is None or not req.console.prepares_vnc:
        return
    import socket  # only a fixed VNCPORT is tried before the start

    host = (req.vnc_listen or DEFAULT_TCP_HOST).strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.create_server((host, vm.vncport), family=family):
            pass
    except OSError as exc:
        reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise VmError(f"VNCPORT {vm.vncport} of VM {vm.label} on {host}: {reason}") from exc


def note_vnc_address(record: RuntimeRecord, rundir: VmRuntimeDir, vm: VmHandle) -> bool:
    """Put where the started VM's VNC server listens into ``record``: its socket, or the
    TCP display QEMU picked (asked over the handle's QMP connection: QEMU serves one QMP
    client at a time). False when there is nothing to note."""
    spec = _argv_vnc(record.argv)
    if spec is None:
        return False
    if spec.unix_path is None:
        spec = query_vnc(vm)
        if spec is None or spec.display is None:
            return False
        record.vnc_host = spec.host or DEFAULT_TCP_HOST
        record.vnc_display = spec.display
        return True
    record.vnc_socket = spec.unix_path
    return True


def _argv_vnc(argv: Sequence[str]) -> VncSpec | None:
    value = _vnc_value(argv)
    return parse_vnc(value) if value is not None else None


def _vnc_value(argv: Sequence[str]) -> str | None:
    """The value of ``-vnc`` on our own command line (ctys writes exactly one)."""
    if "-vnc" not in argv[:-1]:
        return None
    return argv[list(argv).index("-vnc") + 1]


def vnc_start_note(record: RuntimeRecord, rundir: VmRuntimeDir) -> str | None:
    """The VNC part of CREATE's start line; names the password file, never the password."""
    spec = record_vnc(record)
    if spec is None:
        return None
    if spec.display is None:
        return f"VNC {spec}"
    notes = [f"display :{spec.display}"]
    if rundir.vnc_password.exists():
        notes.append(f"password in {rundir.vnc_password}")
    elif "password=on" in split_opts(_vnc_value(record.argv) or ""):
        notes.append("password from VNCPASS")
    return f"VNC {spec} ({'; '.join(notes)})"


def vnc_attach_line(record: RuntimeRecord, rundir: VmRuntimeDir) -> str:
    """CONNECT/REUSE's line: where to connect, and the generated password (only the owner
    of the runtime folder can read it, so only the owner is shown it)."""
    spec = record_vnc(record)
    if spec is None:
        raise VmStateError(f"VM {record.label} has no VNC server")
    password = read_generated_password(rundir) if spec.display is not None else None
    shown = f", password {password}" if password else ""
    return f"{record.label}: VNC {spec}{shown}"


def launch_vnc_viewer(
    record: RuntimeRecord,
    rundir: VmRuntimeDir,
    geometry: Geometry | None,
    which: Which = shutil.which,
    extra: Sequence[str] = (),
) -> None:
    """Open a VNC viewer on the VM's server: its socket, or its TCP port (with the
    generated password, if any, in the viewer's environment); ``extra``: CALLOPTS/XOPTS."""
    spec = record_vnc(record)
    argv = console_argv(
        ConsoleKind.VNC,
        label=record.label,
        vmid=record.vmid,
        session_type=SESSION_TYPE,
        vnc_host=record.vnc_host,
        vnc_port=spec.port if spec else None,
        vnc_socket=spec.unix_path if spec else None,
        geometry=geometry,
        which=which,
        extra=extra,
    )
    launch_detached(argv, env=viewer_environment(read_generated_password(rundir)))


def viewer_environment(password: str | None) -> dict[str, str] | None:
    """The environment of a launched viewer: TigerVNC's viewer takes the password from
    ``VNC_PASSWORD`` (a process's environment is readable by its owner only, unlike argv)."""
    if password is None:
        return None
    return {**os.environ, "VNC_PASSWORD": password}
