"""Attach to a VM's serial console socket (CONSOLE:CLI and the terminal-program consoles).

The hypervisor serves the serial port on ``<runtime>/vms/<vmid>/console.sock`` (a listening
UNIX socket that serves one client and takes the next when it leaves). ``attach_serial`` is
the interactive side: it relays bytes between the terminal and the socket with one selector
loop (no threads). ``SerialConsole`` is the programmatic side for tests and scripts: send
lines, wait for patterns.

A serial console has one attacher at a time: the VM serves one connection and leaves the next
one waiting unserved, so a second attacher would hang or silently take the console over.
Each attacher holds an exclusive ``flock`` on ``console.lock`` beside the socket (in the
VM's private runtime folder) while attached, with its owner record in it
(``ctys.consoles.owner``: user, pid, command, since, host, tty); a second one is told the
console is in use, and by whom. The lock goes with the process, so a killed attacher frees
it. ``force`` takes the console over: the holder is sent SIGUSR1 (after the taker's name
was left in ``console.takeover``), restores its terminal, says who took over and leaves.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import selectors
import signal
import socket
import termios
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from ctys.consoles.owner import ConsoleOwner, format_owner, read_owner_fd, this_process
from ctys.consoles.replay import replay_text
from ctys.errors import CtysError
from ctys.textescape import printable

DEFAULT_ESCAPE = b"\x1d"  # Ctrl-], as telnet and virsh console
_CHUNK = 65536
TAKEOVER_GRACE = 3.0  # seconds an attacher has to leave at each step of a takeover


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


class ConsoleTakenOver(CtysError):
    """Another attacher took the console over (``CONNECT,FORCE``): this one was detached."""


def console_lock_path(socket_path: Path) -> Path:
    """The lock file an attacher of ``socket_path`` holds (``console.lock`` beside it)."""
    return socket_path.with_name(socket_path.stem + ".lock")


def _takeover_path(socket_path: Path) -> Path:
    """Where a taking-over attacher leaves its name for the one it detaches."""
    return socket_path.with_name(socket_path.stem + ".takeover")


@contextlib.contextmanager
def claim_console(
    socket_path: Path,
    name: str | None = None,
    *,
    force: bool = False,
    notify: bool = False,
    stdin_fd: int = 0,
) -> Iterator[None]:
    """Be the one attacher of the console at ``socket_path`` for the ``with`` body.

    Another attacher: ``ConsoleInUse`` naming it (user, pid, command, since, host, tty),
    or with ``force`` it is detached first (``take_over``). ``notify``: this process
    detaches cleanly on SIGUSR1 (``attach_serial`` does), recorded for the next one."""
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
        me = this_process(notify=notify, stdin_fd=stdin_fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_owner_fd(fd) or ConsoleOwner(0)
            if not force:
                by = f": attached by {holder.describe()}" if holder.pid else ""
                raise ConsoleInUse(
                    f"the console of {name or socket_path} is in use{by};"
                    " CONNECT,FORCE takes it over"
                ) from None
            take_over(fd, holder, me, _takeover_path(socket_path), name or str(socket_path))
        os.ftruncate(fd, 0)
        os.pwrite(fd, format_owner(me).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def take_over(fd: int, holder: ConsoleOwner, me: ConsoleOwner, note: Path, name: str) -> None:
    """Detach ``holder`` and take the lock ``fd``: a holder that detaches on request is
    told who took over (``note``) and sent SIGUSR1; one that does not (or does not leave
    in time) gets SIGTERM, then SIGKILL, as RECONNECT's clients do."""
    if holder.pid <= 0:
        raise ConsoleInUse(f"the console of {name} is in use by a process that left no pid")
    signals = [signal.SIGTERM, signal.SIGKILL]
    if holder.notify:
        fd_note = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with contextlib.closing(os.fdopen(fd_note, "w")) as fh:
            fh.write(me.who() + "\n")
        signals.insert(0, signal.SIGUSR1)
    for sig in signals:
        try:
            os.kill(holder.pid, sig)
        except ProcessLookupError:
            pass  # gone already: its lock goes with it
        except PermissionError:
            raise ConsoleInUse(
                f"the console of {name} is held by {holder.describe()}, which this user"
                " cannot detach"
            ) from None
        if _wait_lock(fd, TAKEOVER_GRACE):
            return
    raise ConsoleInUse(f"the console of {name} is still held by {holder.describe()}")


def _wait_lock(fd: int, seconds: float) -> bool:
    """Try the exclusive lock until ``seconds`` have passed; whether it was taken."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


class _Detach(Exception):
    """Raised by the SIGUSR1 handler: another attacher takes the console over."""


@contextlib.contextmanager
def _detach_on_takeover() -> Iterator[bool]:
    """SIGUSR1 ends the attachment (raises ``_Detach``) for the ``with`` body; yields
    whether the handler is in place (only the main thread can set one)."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return

    def handler(_signum: int, _frame: object) -> None:
        raise _Detach

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        yield True
    finally:
        signal.signal(signal.SIGUSR1, previous)


def _taker(socket_path: Path) -> str:
    """Who took the console over, from the note the taker left (one escaped line)."""
    note = _takeover_path(socket_path)
    try:
        text = note.read_text(errors="replace").strip()
    except OSError:
        return "another attacher"
    return printable(text.splitlines()[0]) if text else "another attacher"


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
    force: bool = False,
    replay: Path | None = None,
) -> None:
    """Relay bytes between ``stdin_fd``/``stdout_fd`` and the console socket until one ends.

    When stdin is a terminal it is put in raw mode (restored whatever happens), the last
    lines of the ``replay`` log are shown (escaped, bounded: ``ctys.consoles.replay``), a
    one-line hint is printed, and the ``escape`` byte detaches. When stdin is not a
    terminal the bytes pass through untouched (the escape byte included, no replay), so
    scripts can pipe into a console; after EOF on stdin the guest's answer is still relayed
    until the socket has been quiet for ``linger`` seconds. The socket closing always ends
    the session. Another attacher: ``ConsoleInUse``, or with ``force`` it is detached
    first. Detached by another one's takeover: ``ConsoleTakenOver`` (terminal restored).
    """
    if len(escape) != 1:
        raise CtysError(f"the console escape must be one byte, not {escape!r}")
    name = printable(label or str(socket_path))  # written to the terminal as it is
    with _detach_on_takeover() as notify:
        try:
            with (
                claim_console(socket_path, name, force=force, notify=notify, stdin_fd=stdin_fd),
                connect_console(socket_path) as sock,
            ):
                _attached(sock, name, stdin_fd, stdout_fd, escape, linger, replay)
        except _Detach:
            _write_all(stdout_fd, "\r\n")
            raise ConsoleTakenOver(
                f"the console of {name} was taken over by {_taker(socket_path)}"
            ) from None


def _attached(
    sock: socket.socket,
    name: str,
    stdin_fd: int,
    stdout_fd: int,
    escape: bytes,
    linger: float,
    replay: Path | None,
) -> None:
    """The attached session: a pass-through for scripts, a raw terminal for a user."""
    if not os.isatty(stdin_fd):
        _relay(sock, stdin_fd, stdout_fd, escape=None, linger=linger)
        return
    if replay is not None:
        _write_all(stdout_fd, replay_text(replay))
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
