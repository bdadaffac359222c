"""attach_serial and SerialConsole against a real AF_UNIX socket server."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctys.consoles import serial as serial_module
from ctys.consoles.serial import SerialConsole, attach_serial
from ctys.errors import CtysError
from support.consolehold import HOLDER_CODE

pytestmark = pytest.mark.timeout(20)


class FakeConsole:
    """A one-client console server; ``handler(conn)`` plays the VM side."""

    def __init__(self, path: Path, handler: Callable[[socket.socket], None]) -> None:
        self.path = path
        self.received = bytearray()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(1)
        self._handler = handler
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return  # closed before a client came (the test attached nothing)
        with conn:
            self._handler(conn)

    def close(self) -> None:
        # Wake a pending accept() and join the thread before the descriptor is closed: a
        # thread still in accept() on a closed, reused descriptor would serve the next
        # test's socket.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._listener.close()


def echo_upper(received: bytearray) -> Callable[[socket.socket], None]:
    """The VM side that answers every chunk in upper case until the client closes."""

    def handler(conn: socket.socket) -> None:
        try:
            while data := conn.recv(4096):
                received.extend(data)
                conn.sendall(data.upper())
        except ConnectionError:
            pass  # the client detached while we were answering

    return handler


@pytest.fixture
def sock_path(tmp_path: Path) -> Path:
    return tmp_path / "console.sock"


@pytest.fixture
def upper_server(sock_path: Path) -> Iterator[FakeConsole]:
    received = bytearray()
    server = FakeConsole(sock_path, echo_upper(received))
    server.received = received
    yield server
    server.close()


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)


def test_pipe_stdin_relays_both_ways_and_eof_ends(upper_server: FakeConsole) -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    payload = b"hello console\n\x1d binary \x00\xff\n"  # escape byte is data when not a tty
    os.write(in_w, payload)
    os.close(in_w)
    started = time.monotonic()
    attach_serial(upper_server.path, stdin_fd=in_r, stdout_fd=out_w, linger=0.3)
    assert time.monotonic() - started < 5
    os.close(out_w)
    os.close(in_r)
    output = read_all(out_r)
    os.close(out_r)
    assert bytes(upper_server.received) == payload
    assert output == payload.upper()  # no hint on a non-tty, just the guest's bytes


def test_socket_close_ends_attach(sock_path: Path) -> None:
    def say_bye(conn: socket.socket) -> None:
        conn.sendall(b"bye\r\n")

    server = FakeConsole(sock_path, say_bye)
    in_r, in_w = os.pipe()  # stdin stays open: only the socket closing can end it
    out_r, out_w = os.pipe()
    try:
        attach_serial(sock_path, stdin_fd=in_r, stdout_fd=out_w)
        os.close(out_w)
        assert read_all(out_r) == b"bye\r\n"
    finally:
        for fd in (in_r, in_w, out_r):
            os.close(fd)
        server.close()


def test_pty_raw_mode_restored_and_ctrl_bracket_detaches(upper_server: FakeConsole) -> None:
    master, slave = os.openpty()
    out_r, out_w = os.pipe()
    before = termios.tcgetattr(slave)
    assert before[3] & termios.ICANON  # a fresh pty starts in cooked mode
    errors: list[BaseException] = []

    def run() -> None:
        try:
            attach_serial(upper_server.path, stdin_fd=slave, stdout_fd=out_w, label="vm1", linger=0)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while termios.tcgetattr(slave)[3] & termios.ICANON:  # wait for raw mode
            assert time.monotonic() < deadline, "attach_serial never switched to raw mode"
            time.sleep(0.01)
        assert not termios.tcgetattr(slave)[3] & termios.ECHO
        # Ctrl-C goes to the guest as a byte in raw mode; bytes after Ctrl-] are not sent.
        os.write(master, b"ls\x03\r\x1dnot-sent")
        worker.join(timeout=5)
        assert not worker.is_alive(), "Ctrl-] did not detach"
        assert not errors
        assert termios.tcgetattr(slave) == before
        os.close(out_w)
        output = read_all(out_r)
    finally:
        os.close(master)
        os.close(slave)
        os.close(out_r)
    # The fake console's server thread may still be reading when the client has detached.
    deadline = time.monotonic() + 5
    while bytes(upper_server.received) != b"ls\x03\r" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bytes(upper_server.received) == b"ls\x03\r"
    assert output.startswith(b"[ctys] attached to vm1; Ctrl-] detaches\r\n")
    assert output.endswith(b"[ctys] detached from vm1\r\n")


def test_raw_mode_restored_when_relay_fails(
    upper_server: FakeConsole, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terminal comes back even when the relay dies with an exception."""
    master, slave = os.openpty()
    out_r, out_w = os.pipe()
    before = termios.tcgetattr(slave)
    seen_raw: list[bool] = []

    def failing_relay(*_args: object, **_kwargs: object) -> bool:
        seen_raw.append(not termios.tcgetattr(slave)[3] & termios.ICANON)
        raise OSError("relay broke")

    monkeypatch.setattr(serial_module, "_relay", failing_relay)
    try:
        with pytest.raises(OSError, match="relay broke"):
            attach_serial(upper_server.path, stdin_fd=slave, stdout_fd=out_w)
        assert seen_raw == [True]
        assert termios.tcgetattr(slave) == before
    finally:
        for fd in (master, slave, out_r, out_w):
            os.close(fd)


def test_dead_socket_messages(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.sock"
    with pytest.raises(CtysError) as info:
        attach_serial(missing, stdin_fd=0, stdout_fd=1)
    assert str(info.value) == (
        f"console socket {missing} is not accepting connections (VM not running?)"
    )

    stale = tmp_path / "stale.sock"  # a socket file nobody listens on: ECONNREFUSED
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(stale))
    listener.close()
    with pytest.raises(CtysError, match="not accepting connections"):
        SerialConsole(stale)


def test_serial_console_read_until_and_send_line(upper_server: FakeConsole) -> None:
    with SerialConsole(upper_server.path, timeout=5) as con:
        con.send_line("echo one")
        assert con.read_until(b"ONE") == b"ECHO ONE"
        con.send_line("two 42")
        assert con.read_until(re.compile(rb"\d+\n")) == b"\nTWO 42\n"
    assert bytes(upper_server.received) == b"echo one\ntwo 42\n"


def test_serial_console_timeout_reports_tail(upper_server: FakeConsole) -> None:
    with SerialConsole(upper_server.path, timeout=5) as con:
        con.send_line("login:")
        started = time.monotonic()
        with pytest.raises(CtysError) as info:
            con.read_until(b"never", timeout=0.3)
        assert 0.25 < time.monotonic() - started < 3
    message = str(info.value)
    assert "timed out after 0.3s" in message
    assert "LOGIN:" in message


def test_serial_console_closed_by_vm(sock_path: Path) -> None:
    server = FakeConsole(sock_path, lambda conn: conn.sendall(b"Power down.\n"))
    try:
        with (
            SerialConsole(sock_path, timeout=5) as con,
            pytest.raises(CtysError, match="closed while waiting"),
        ):
            con.read_until(b"login:")
    finally:
        server.close()


# --- one attacher at a time ----------------------------------------------------------------


def test_a_second_attacher_is_told_the_console_is_in_use(upper_server: FakeConsole) -> None:
    with SerialConsole(upper_server.path, timeout=5) as first:
        r, w = os.pipe()
        os.close(w)  # a second attacher: it must not connect, hang nor share
        try:
            with pytest.raises(serial_module.ConsoleInUse) as refused:
                attach_serial(upper_server.path, stdin_fd=r, stdout_fd=os.open(os.devnull, 1))
        finally:
            os.close(r)
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"the console of {upper_server.path} is in use: attached by ")
        assert f" (pid {os.getpid()}, " in message
        assert message.endswith("; CONNECT,FORCE takes it over")
        # The first attacher still has the console.
        first.send_line("still mine")
        first.read_until(b"STILL MINE")
    # Detached: the console is free again (the lock is not left behind held).
    with serial_module.claim_console(upper_server.path):
        pass


def test_the_console_lock_dies_with_its_holder(sock_path: Path, tmp_path: Path) -> None:
    # A killed attacher frees the console: the lock is the process's, not a file's content.
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER_CODE, str(sock_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with (
            pytest.raises(serial_module.ConsoleInUse, match=rf"by .* \(pid {holder.pid}, "),
            serial_module.claim_console(sock_path, "vm1"),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with serial_module.claim_console(sock_path, "vm1"):
        assert (tmp_path / "console.lock").stat().st_mode & 0o777 == 0o600
