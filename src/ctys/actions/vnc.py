"""CREATE's VNC side: where QEMU's server listens, its password, a fixed port's check."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from ctys.conf.model import VmConfig
from ctys.errors import CtysError, QemuError, UsageError
from ctys.plugins.qemu.requests import CreateRequest, SecretFrom
from ctys.qemu.qmp import QmpUnavailable, qmp_execute


def vnc_address(qmp: Path) -> tuple[str, int] | None:
    """Host and display number QEMU's VNC server listens on (it picks a free one)."""
    try:
        info = qmp_execute(qmp, "query-vnc")
    except QmpUnavailable:
        return None
    if not isinstance(info, dict) or not info.get("enabled"):
        return None
    try:
        return str(info.get("host", "127.0.0.1")), int(info["service"]) - 5900
    except (KeyError, ValueError):
        return None


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


def with_vnc_password(argv: list[str]) -> list[str]:
    """``-vnc ...,password=on``: QEMU refuses every VNC client until QMP sets the password."""
    at = argv.index("-vnc") + 1
    return [*argv[:at], f"{argv[at]},password=on", *argv[at + 1 :]]


def check_vnc_port_free(vm: VmConfig, req: CreateRequest) -> None:
    """A fixed VNCPORT that is taken fails before booting, naming the TCP port (QEMU's own
    error names only the display number)."""
    if vm.vncport is None or not req.console.prepares_vnc:
        return
    host = req.vnc_listen.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.create_server((host, vm.vncport), family=family):
            pass
    except OSError as exc:
        reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise QemuError(f"VNCPORT {vm.vncport} of VM {vm.label} on {host}: {reason}") from exc
