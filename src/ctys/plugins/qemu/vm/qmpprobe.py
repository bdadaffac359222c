"""The run state of many VMs at once: ``query-status`` on each QMP socket, all connections
open together in one thread (``selectors``), one deadline for all.

LIST asks every running VM for its state. Through ``vm.qmp.QmpSession`` (asyncio and the
``qemu.qmp`` client, one event loop per VM) that cost LIST more than all its other work
for 20 VMs; this probe speaks the few lines of QMP it needs itself: it reads the greeting,
sends ``qmp_capabilities`` and ``query-status`` at once, reads the two replies (skipping
events) and closes. It holds no connection beyond that, so it never keeps another client
(QEMU serves one at a time) waiting longer than the query; a monitor that is busy with
another client, or does not answer, is ``None`` when the deadline passes. Every action
that changes a VM still goes through ``vm.handle.VmHandle``.
"""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_REQUEST = b'{"execute": "qmp_capabilities", "id": 1}\r\n{"execute": "query-status", "id": 2}\r\n'
_MAX_REPLY = 1 << 20  # a monitor that talks this much without answering is not a QMP one


@dataclass
class _Probe:
    sock: socket.socket
    buffer: bytes = b""
    state: str | None = None
    done: bool = False


def parse_reply_lines(data: bytes) -> tuple[list[object], bytes]:
    """The complete JSON lines of ``data`` (parsed; lines that are no JSON are skipped)
    and the unfinished rest."""
    *complete, rest = data.split(b"\n")
    messages: list[object] = []
    for line in complete:
        if not line.strip():
            continue
        try:
            messages.append(json.loads(line))
        except ValueError:
            continue
    return messages, rest


def _feed(probe: _Probe, data: bytes) -> None:
    """Take what the monitor sent: the replies by their ids (the greeting and events
    carry none)."""
    messages, probe.buffer = parse_reply_lines(probe.buffer + data)
    if len(probe.buffer) > _MAX_REPLY:
        probe.done = True
        return
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("id") == 1 and "error" in message:
            probe.done = True  # capabilities refused: no state
        elif message.get("id") == 2:
            result = message.get("return")
            if isinstance(result, dict) and isinstance(result.get("status"), str):
                probe.state = result["status"]
            probe.done = True


def query_states(sockets: Sequence[Path], timeout: float) -> list[str | None]:
    """The QMP run state (``running``, ``paused``, ...) behind each socket of ``sockets``,
    in their order; ``None`` for a socket that is missing, refuses the connection or has
    not answered when ``timeout`` (seconds, for all of them together) has passed."""
    deadline = time.monotonic() + timeout
    probes: list[_Probe | None] = []
    with selectors.DefaultSelector() as selector:
        for path in sockets:
            probes.append(_connect(path, selector))
        pending = sum(1 for p in probes if p is not None)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in selector.select(left):
                probe: _Probe = key.data
                try:
                    data = probe.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    _feed(probe, data)
                else:
                    probe.done = True  # closed by qemu
                if probe.done:  # closed at once: the monitor is free for its next client
                    selector.unregister(probe.sock)
                    probe.sock.close()
                    pending -= 1
        for opened in probes:
            if opened is not None and not opened.done:
                opened.sock.close()
    return [p.state if p is not None else None for p in probes]


def _connect(path: Path, selector: selectors.BaseSelector) -> _Probe | None:
    """A connected socket with the request already sent (QEMU reads it after its
    greeting), registered for reading; ``None`` when the socket does not take it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.connect(str(path))
        sock.sendall(_REQUEST)
    except OSError:  # missing, refused, not a socket, too long a path, buffer full
        sock.close()
        return None
    probe = _Probe(sock)
    selector.register(sock, selectors.EVENT_READ, probe)
    return probe
