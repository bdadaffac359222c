"""LIST's run-state probe: query-status on many QMP sockets at once, one deadline for all
(``vm.qmpprobe``, over ``qemu.qmp``), against fake monitors that speak QMP's lines."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctys.plugins.qemu.vm.qmpprobe import query_states
from ctys.plugins.qemu.vm.runstate import reply_status
from support.qmpframes import JsonObjects

_EVENT = b'{"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 0}}\r\n'
Serve = Callable[[socket.socket], None]
_GREETING = (
    b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""},'
    b' "capabilities": []}}\r\n'
)


def _reader(conn: socket.socket) -> Iterator[dict[str, object]]:
    """The commands a client sends, as QEMU reads them (a stream of JSON objects)."""
    objects = JsonObjects()
    while chunk := conn.recv(4096):
        yield from objects.feed(chunk.decode())


def answering(state: str, *, event_first: bool = False) -> Serve:
    """A monitor that greets, then answers each command by its id (QEMU's way)."""

    def serve(conn: socket.socket) -> None:
        conn.sendall(_GREETING)
        for command in _reader(conn):
            if event_first and command["execute"] != "qmp_capabilities":
                # (QEMU sends events only once capabilities are negotiated.)
                conn.sendall(_EVENT)
            if command["execute"] == "qmp_capabilities":
                reply: dict[str, object] = {"return": {}}
            else:
                reply = {"return": {"status": state, "running": False}}
            if "id" in command:
                reply["id"] = command["id"]
            data = json.dumps(reply).encode() + b"\r\n"
            # In two pieces: a reply may arrive split over reads.
            conn.sendall(data[:7])
            time.sleep(0.01)
            conn.sendall(data[7:])

    return serve


def mute(conn: socket.socket) -> None:
    time.sleep(2)


def closing(conn: socket.socket) -> None:
    conn.sendall(_GREETING)


@pytest.fixture
def monitors(short_tmp: Path) -> Iterator[Callable[[str, Serve], Path]]:
    servers: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def start(name: str, serve: Serve) -> Path:
        path = short_tmp / f"{name}.sock"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        server.listen(1)
        servers.append(server)

        def run() -> None:
            conn, _ = server.accept()
            with conn:
                serve(conn)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        return path

    yield start
    for server in servers:
        server.close()


def test_each_socket_gets_its_own_state_in_order(
    monitors: Callable[[str, Serve], Path], short_tmp: Path
) -> None:
    running = monitors("a", answering("running"))
    paused = monitors("b", answering("paused", event_first=True))
    missing = short_tmp / "none.sock"
    failed = monitors("c", answering("internal-error"))
    assert query_states([running, missing, paused, failed], 2.0) == [
        "running",
        None,
        "paused",
        "internal-error",
    ]


def test_silent_and_closing_monitors_are_none_within_one_deadline(
    monitors: Callable[[str, Serve], Path],
) -> None:
    socks = [monitors(f"m{i}", mute) for i in range(3)]
    socks.append(monitors("gone", closing))
    socks.append(monitors("ok", answering("running")))
    started = time.monotonic()
    states = query_states(socks, 0.3)
    assert states == [None, None, None, None, "running"]
    assert time.monotonic() - started < 1.5  # one deadline for all, not one each


def test_a_file_that_is_no_socket_is_none(short_tmp: Path) -> None:
    plain = short_tmp / "plain"
    plain.write_text("x")
    assert query_states([plain], 0.2) == [None]
    assert query_states([], 0.2) == []


def test_run_state_reads_only_a_string_status() -> None:
    assert reply_status({"status": "paused", "running": False}) == "paused"
    assert reply_status({"status": 3}) is None
    assert reply_status([]) is None
