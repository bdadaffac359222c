"""The QEMU guest agent's wire protocol (JSON lines over its virtio-serial socket): one
command per connection, ``guest-sync`` first. Used by LIST (the guest's address, in
``net.guestip``) and by CANCEL's first step (``guest-shutdown``)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from ctys.errors import CtysError
from ctys.plugins.qemu.vm.qmp import QmpError

#: The agent socket's name in a VM's runtime folder.
QGA_SOCKET_NAME = "qga.sock"
#: How long CANCEL waits for the agent to answer before it goes on to ACPI.
SHUTDOWN_ANSWER = 2.0


def _connect_synced(sock: socket.socket, sock_path: Path, deadline: float) -> _JsonLines:
    """Connect and ``guest-sync``: a stale reply of an earlier client is skipped."""
    token = int(time.time() * 1000) % 2_000_000_000
    sock.connect(str(sock_path))
    lines = _JsonLines(sock, deadline)
    _send(sock, {"execute": "guest-sync", "arguments": {"id": token}})
    while lines.next().get("return") != token:
        pass
    return lines


def query_agent(
    sock_path: Path,
    command: str,
    *,
    timeout: float = 1.0,
    arguments: dict[str, object] | None = None,
) -> object:
    """Run one guest agent ``command`` over its socket and return its ``return`` value.
    The agent answers only when it runs in the guest: ``guest-sync`` first, so a stale
    reply of an earlier client is skipped. ``CtysError`` when it does not answer."""
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            lines = _connect_synced(sock, sock_path, deadline)
            message: dict[str, object] = {"execute": command}
            if arguments is not None:
                message["arguments"] = arguments
            _send(sock, message)
            reply = lines.next()
    except (OSError, ValueError) as exc:
        raise CtysError(f"guest agent at {sock_path} did not answer: {exc}") from exc
    if "error" in reply:
        raise CtysError(f"guest agent: {command}: {reply['error']}")
    return reply.get("return")


def _send(sock: socket.socket, message: dict[str, object]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


class _JsonLines:
    """JSON objects from a socket, one per line, until a deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def next(self) -> dict[str, object]:
        while True:
            line, sep, rest = self.buffer.partition(b"\n")
            if sep:
                self.buffer = rest
                text = line.strip().lstrip(b"\xff")  # 0xFF: guest-sync-delimited sentinel
                if not text:
                    continue
                value = json.loads(text)
                if isinstance(value, dict):
                    return value
                continue
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buffer += chunk


class AgentRefused(QmpError):
    """The guest agent did not take ``guest-shutdown``: no answer, or an error reply."""


def shutdown(sock_path: Path, *, timeout: float = SHUTDOWN_ANSWER) -> None:
    """``request_shutdown`` as a rung of the stop ladder: ``AgentRefused`` (a ``QmpError``,
    which the ladder treats as a refused step) says why the agent did not take it."""
    refused = request_shutdown(sock_path, timeout=timeout)
    if refused is not None:
        raise AgentRefused(refused)


def request_shutdown(sock_path: Path, *, timeout: float = SHUTDOWN_ANSWER) -> str | None:
    """Ask the agent to power the guest off (``guest-shutdown``, mode ``powerdown``).
    ``None`` when it took the request (on success the agent sends no reply: the guest goes
    down), else why not, for CANCEL's report."""
    if not sock_path.exists():
        return "no agent socket"
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            lines = _connect_synced(sock, sock_path, deadline)
            _send(sock, {"execute": "guest-shutdown", "arguments": {"mode": "powerdown"}})
            # An error comes back at once; silence (or the guest closing the port) is the
            # agent doing it.
            lines.deadline = min(deadline, time.monotonic() + 0.5)
            try:
                reply = lines.next()
            except (OSError, ValueError):
                return None
    except (OSError, ValueError) as exc:
        return f"no answer in {timeout:g}s" if isinstance(exc, TimeoutError) else str(exc)
    error = reply.get("error")
    if error is not None:
        desc = error.get("desc") if isinstance(error, dict) else error
        return f"refused: {desc}"
    return None


def exec_in_guest(
    sock_path: Path, argv: list[str], *, timeout: float = 10.0, wait: float = 5.0
) -> int | None:
    """Run ``argv`` in the guest through its agent (``guest-exec``) and return its exit
    code; ``None`` when it has not ended within ``wait`` seconds or the guest went away
    first (systemd's ``telinit`` waits for its job, which may take the agent down with it).
    ``CtysError`` when the agent does not answer within ``timeout`` or refuses."""
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            lines = _connect_synced(sock, sock_path, deadline)
            run = {"path": argv[0], "arg": argv[1:], "capture-output": False}
            _send(sock, {"execute": "guest-exec", "arguments": run})
            reply = lines.next()
    except (OSError, ValueError) as exc:
        raise CtysError(f"guest agent at {sock_path} did not answer: {exc}") from exc
    if "error" in reply:
        raise CtysError(f"guest agent: guest-exec {argv[0]}: {reply['error']}")
    started = reply.get("return")
    pid = started.get("pid") if isinstance(started, dict) else None
    ends = time.monotonic() + wait
    while time.monotonic() < ends:
        try:
            status = query_agent(
                sock_path, "guest-exec-status", arguments={"pid": pid}, timeout=1.0
            )
        except CtysError:
            return None  # the agent went down with the command
        if isinstance(status, dict) and status.get("exited"):
            code = status.get("exitcode")
            return int(code) if isinstance(code, int) else None
        time.sleep(0.2)
    return None
