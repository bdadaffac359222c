"""The human monitor of a qemu started by hand (``-monitor unix:PATH``), used by CANCEL."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
from ctys.plugins.qemu.vm.hmp import hmp_command, hmp_socket, hmp_status
from ctys.plugins.qemu.vm.qmp import QmpUnavailable

BANNER = b"QEMU 8.2.2 monitor - type 'help' for more information\r\n(qemu) "


@pytest.fixture
def monitor(short_tmp: Path) -> Iterator[tuple[Path, list[str]]]:
    """A fake HMP on a UNIX socket: answers ``info status`` (paused), records commands."""
    path = short_tmp / "hmp.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    seen: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(BANNER)
                line = conn.makefile("rb").readline().decode().strip()
                seen.append(line)
                if line == "info status":
                    conn.sendall(b"info status\r\nVM status: paused\r\n(qemu) ")
                elif line != "quit":
                    conn.sendall(b"\r\n(qemu) ")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, seen
    # Wake and join the server thread before the descriptor closes: an accept() on the
    # closed, reused descriptor number would serve the next test's socket.
    with contextlib.suppress(OSError):
        server.shutdown(socket.SHUT_RDWR)
    thread.join(timeout=5)
    server.close()


def test_status_and_commands(monitor: tuple[Path, list[str]]) -> None:
    path, seen = monitor
    assert hmp_status(path) == "paused"
    assert hmp_command(path, "system_powerdown") == ""
    hmp_command(path, "quit")
    assert seen == ["info status", "system_powerdown", "quit"]


def test_silent_or_missing_monitor_is_unavailable(short_tmp: Path) -> None:
    with pytest.raises(QmpUnavailable, match="monitor socket"):
        hmp_command(short_tmp / "none.sock", "quit", timeout=0.5)


def test_monitor_socket_from_the_command_line(short_tmp: Path) -> None:
    sock = short_tmp / "m.sock"
    sock.touch()
    plain = parse_qemu_cmdline(["qemu-system-x86_64", "-monitor", f"unix:{sock},server,nowait"])
    assert hmp_socket(plain) == sock
    chardev = parse_qemu_cmdline(
        ["qemu-system-x86_64", "-chardev", f"socket,id=m0,path={sock},server=on", "-mon", "m0"]
    )
    assert hmp_socket(chardev) == sock
    control = parse_qemu_cmdline(
        ["qemu-system-x86_64", "-chardev", f"socket,id=m0,path={sock}", "-mon", "m0,mode=control"]
    )
    assert hmp_socket(control) is None  # that is QMP
    assert hmp_socket(parse_qemu_cmdline(["qemu-system-x86_64", "-monitor", "stdio"])) is None
