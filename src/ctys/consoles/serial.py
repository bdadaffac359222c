"""Attach to a VM's serial console socket (CONSOLE:CLI and the terminal-program consoles).

The hypervisor serves the serial port on ``<runtime>/vms/<vmid>/console.sock`` (a listening
UNIX socket that serves one client and takes the next when it leaves). ``attach_serial`` is
the interactive side: it relays bytes between the terminal and the socket with one selector
loop (no threads). ``SerialConsole`` is the programmatic side for tests and scripts: send
lines, wait for patterns.

A serial console has one attacher at a time: the VM serves one connection and leaves the next
one waiting unserved, so a second attacher would hang or silently take the console over.
Each attacher holds an exclusive ``flock`` on ``console.lock`` beside the socket (in the
VM's private runtime folder) while attached; a second one is told the console is in use,
and by which process. The lock goes with the process, so a killed attacher frees it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import selectors
import socket
import termios
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from ctys.errors import CtysError
from ctys.textescape import printable

DEFAULT_ESCAPE = b"\x1d"  # Ctrl-], as telnet and virsh console
_CHUNK = 65536


def connect_console(socket_path: Path, timeout: float | None = None) -> socket.socket:
    """Connect to a console socket; a missing or dead socket becomes a ``CtysError``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(socket_path))
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        sock.close()
        raise CtysError(
            f"console socket {socket_path} is not accepting connections (VM not running?)"
        ) from exc
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise CtysError(f"cannot connect to console socket {socket_path}: {reason}") from exc
    sock.settimeout(None)
    return sock


class ConsoleInUse(CtysError):
    """Another process is attached to the serial console."""


def console_lock_path(socket_path: Path) -> Path:
    """The lock file an attacher of ``socket_path`` holds (``console.lock`` beside it)."""
    return socket_path.with_name(socket_path.stem + ".lock")


@contextlib.contextmanager
def claim_console(socket_path: Path, name: str | None = None) -> Iterator[None]:
    """Be the one attacher of the console at ``socket_path`` for the ``with`` body;
    ``ConsoleInUse`` (naming the holder's pid) when another process is attached."""
    lock = console_lock_path(socket_path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        # No VM folder: the connect that follows says "not running" (never a new folder).
        yield
        return
    except OSError as exc:
        raise CtysError(f"cannot lock console {socket_path}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            by = f" by pid {holder}" if holder else ""
            raise ConsoleInUse(
                f"the console of {name or socket_path} is in use (attached{by});"
                " detach it there first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _holder(fd: int) -> int | None:
    """The pid the attacher holding the lock wrote into it, if any."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def escape_name(escape: bytes) -> str:
    """How to type the escape byte: ``b"\\x1d"`` is ``Ctrl-]``."""
    if len(escape) == 1 and escape[0] < 0x20:
        return "Ctrl-" + chr(escape[0] + 0x40)
    return repr(escape)


def attach_serial(
    socket_path: Path,
    *,
    stdin_fd: int = 0,
    stdout_fd: int = 1,
    escape: bytes = DEFAULT_ESCAPE,
    label: str | None = None,
    linger: float = 0.5,
) -> None:
    """Relay bytes between ``stdin_fd``/``stdout_fd`` and the console socket until one ends.

    When stdin is a terminal it is put in raw mode (restored whatever happens), a one-line
    hint is printed, and the ``escape`` byte detaches. When stdin is not a terminal the
    bytes pass through untouched (the escape byte included), so scripts can pipe into a
    console; after EOF on stdin the guest's answer is still relayed until the socket has
    been quiet for ``linger`` seconds. The socket closing always ends the session.
    """
    if len(escape) != 1:
        raise CtysError(f"the console escape must be one byte, not {escape!r}")
    name = printable(label or str(socket_path))  # written to the terminal as it is
    with claim_console(socket_path, name), connect_console(socket_path) as sock:
        if not os.isatty(stdin_fd):
            _relay(sock, stdin_fd, stdout_fd, escape=None, linger=linger)
            return
        _write_all(stdout_fd, f"[ctys] attached to {name}; {escape_name(escape)} detaches\r\n")
        with _raw_mode(stdin_fd):
            detached = _relay(sock, stdin_fd, stdout_fd, escape=escape, linger=linger)
        if detached:
            _write_all(stdout_fd, f"\r\n[ctys] detached from {name}\r\n")


@contextlib.contextmanager
def _raw_mode(fd: int) -> Iterator[None]:
    """Raw mode for the terminal on ``fd``: keys (Ctrl-C too) go to the guest unchanged."""
    saved = termios.tcgetattr(fd)
    try:
        # TCSANOW, not setraw's default TCSAFLUSH: typed-ahead input must not be dropped.
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _relay(
    sock: socket.socket,
    stdin_fd: int,
    stdout_fd: int,
    *,
    escape: bytes | None,
    linger: float,
) -> bool:
    """The selector loop; returns True when the user detached with the escape byte."""
    # poll, not epoll: epoll refuses regular files, and stdin may be redirected from one.
    with selectors.PollSelector() as selector:
        selector.register(sock, selectors.EVENT_READ, "sock")
        selector.register(stdin_fd, selectors.EVENT_READ, "stdin")
        quiet_deadline: float | None = None  # set once stdin reached EOF
        while True:
            timeout = None
            if quiet_deadline is not None:
                timeout = max(0.0, quiet_deadline - time.monotonic())
            events = selector.select(timeout)
            if not events and quiet_deadline is not None:
                return False
            for key, _mask in events:
                if key.data == "sock":
                    data = _recv(sock)
                    if not data or not _write_all(stdout_fd, data):
                        return False
                    if quiet_deadline is not None:
                        quiet_deadline = time.monotonic() + linger
                    continue
                data = _read(stdin_fd)
                if not data:
                    selector.unregister(stdin_fd)
                    quiet_deadline = time.monotonic() + linger
                    continue
                if escape is not None and escape in data:
                    _send(sock, data[: data.index(escape)])
                    return True
                if not _send(sock, data):
                    return False


def _recv(sock: socket.socket) -> bytes:
    """Read from the socket; a reset connection counts as closed."""
    try:
        return sock.recv(_CHUNK)
    except ConnectionError:
        return b""


def _read(fd: int) -> bytes:
    """Read from stdin; EIO (a pty whose other side is gone) counts as EOF."""
    try:
        return os.read(fd, _CHUNK)
    except OSError as exc:
        if exc.errno == errno.EIO:
            return b""
        raise


def _send(sock: socket.socket, data: bytes) -> bool:
    """Send everything; False when the VM side has gone away."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionError):
        return False
    return True


def _write_all(fd: int, data: bytes | str) -> bool:
    """Write everything to ``fd``; False when the reader has gone away (EPIPE)."""
    view = memoryview(data.encode() if isinstance(data, str) else data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        return False
    return True


class SerialConsole:
    """A scripted conversation with a serial console::

    with SerialConsole(vm.console_socket, timeout=30) as con:
        con.read_until(b"login: ")
        con.send_line("root")
        con.read_until(re.compile(rb"[#$] $"))
    """

    def __init__(self, socket_path: Path, timeout: float = 10.0, newline: bytes = b"\n") -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.newline = newline
        self.transcript = bytearray()  # everything received, for error messages and logs
        self._pending = bytearray()  # received but not yet returned by read_until
        # One attacher at a time, this one included (see the module docstring).
        self._claim = contextlib.ExitStack()
        self._claim.enter_context(claim_console(socket_path))
        try:
            self._sock = connect_console(socket_path, timeout=timeout)
        except BaseException:
            self._claim.close()
            raise

    def __enter__(self) -> SerialConsole:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        """Send raw bytes to the guest."""
        if not _send(self._sock, data):
            raise CtysError(f"console {self.socket_path} closed while sending")

    def send_line(self, text: str) -> None:
        """Send ``text`` followed by the newline (``\\n`` unless configured otherwise)."""
        self.send(text.encode() + self.newline)

    def read_until(self, pattern: bytes | re.Pattern[bytes], timeout: float | None = None) -> bytes:
        """Read until ``pattern`` (bytes or compiled bytes regex) appears; return everything
        up to and including the match. Raises ``CtysError`` with the tail of the output on
        timeout or when the console closes first."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            match = regex.search(self._pending)
            if match:
                found = bytes(self._pending[: match.end()])
                del self._pending[: match.end()]
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CtysError(
                    f"timed out after {limit:g}s waiting for {regex.pattern!r} on console "
                    f"{self.socket_path}; last output: {self._tail()!r}"
                )
            self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(_CHUNK)
            except TimeoutError:
                continue
            except ConnectionError:
                data = b""
            if not data:
                raise CtysError(
                    f"console {self.socket_path} closed while waiting for {regex.pattern!r}; "
                    f"last output: {self._tail()!r}"
                )
            self._pending += data
            self.transcript += data

    def close(self) -> None:
        """Close the connection (the VM keeps running) and free the console."""
        self._sock.close()
        self._claim.close()

    def _tail(self, size: int = 200) -> bytes:
        return bytes(self.transcript[-size:])
