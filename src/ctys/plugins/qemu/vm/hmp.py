"""The human monitor (HMP) of a qemu started by hand with ``-monitor unix:PATH,server``:
enough to stop it gracefully (``system_powerdown``, ``quit``) and ask its run state."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

from ctys.plugins.qemu.vm.cmdline import QemuCmdline, iter_options, parse_opts
from ctys.plugins.qemu.vm.qmp import QmpUnavailable

PROMPT = b"(qemu) "


def hmp_socket(cmd: QemuCmdline) -> Path | None:
    """The UNIX socket of the first ``-monitor`` (or ``-mon`` of mode readline on a socket
    chardev) the command line names, when it exists."""
    chardevs: dict[str, str] = {}
    found: str | None = None
    for option, value in iter_options(cmd.argv[1:]):
        if option is None or value is None:
            continue
        if option == "monitor" and found is None:
            spec = value[4:] if value.startswith("mon:") else value
            if spec.startswith("unix:"):
                found = spec[5:].split(",", 1)[0]
        elif option == "chardev":
            opts = parse_opts(value, implied="backend")
            if opts.get("backend") in ("socket", "unix") and "path" in opts and "id" in opts:
                chardevs[opts["id"]] = opts["path"]
        elif option == "mon" and found is None:
            opts = parse_opts(value, implied="chardev")
            if opts.get("mode", "readline") == "readline" and opts.get("chardev") in chardevs:
                found = chardevs[opts["chardev"]]
    return Path(found) if found and Path(found).exists() else None


def _read_prompt(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while not data.endswith(PROMPT):
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def hmp_command(path: Path, command: str, timeout: float = 3.0) -> str:
    """Run one HMP command; its output (without the echo and prompt). A monitor that does
    not answer raises ``QmpUnavailable`` (the same fallbacks as for QMP apply)."""
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            _read_prompt(sock, deadline)  # the banner
            sock.sendall(command.encode() + b"\n")
            with contextlib.suppress(ConnectionResetError):
                reply = _read_prompt(sock, deadline)
                text = reply.decode(errors="replace").replace("\r", "")
                lines = [ln for ln in text.split("\n") if ln and not ln.startswith("(qemu)")]
                return "\n".join(ln for ln in lines if ln.strip() != command)
            return ""
    except (OSError, TimeoutError) as exc:
        raise QmpUnavailable(f"monitor socket {path}: {exc.strerror or exc}") from exc


def hmp_status(path: Path, timeout: float = 2.0) -> str:
    """The run state as ``info status`` says it (``running``, ``paused``, ...)."""
    reply = hmp_command(path, "info status", timeout)
    for line in reply.splitlines():
        if line.startswith("VM status:"):
            state = line.split(":", 1)[1].strip()
            # "paused (internal-error)" names the reason: that is the state QMP would give.
            if "(" in state:
                state = state.split("(", 1)[1].rstrip(")")
            return state.split()[0] if state else "unknown"
    return "unknown"
