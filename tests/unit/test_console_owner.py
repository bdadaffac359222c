"""Console ownership (the owner record in console.lock, CONNECT,FORCE's takeover) and the
replay of a console's last lines."""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.consoles import serial as serial_module
from ctys.consoles.owner import (
    ConsoleOwner,
    console_owner,
    format_owner,
    parse_owner,
    this_process,
)
from ctys.consoles.replay import REPLAY_BYTES, replay_text, tail_lines
from ctys.consoles.serial import ConsoleInUse, attach_serial, claim_console, console_lock_path
from support.consolehold import HOLDER_CODE

pytestmark = pytest.mark.timeout(30)

# --- the owner record -----------------------------------------------------------------------


def test_owner_record_round_trips_and_describes_itself() -> None:
    owner = ConsoleOwner(
        pid=4711,
        user="alice",
        origin="10.0.0.5",
        tty="/dev/pts/3",
        since=1764660000.0,
        cmd="ctys -t QEMU -a CREATE=l:demo,CONNECT",
        notify=True,
    )
    assert parse_owner(format_owner(owner)) == owner
    assert owner.who() == "alice@10.0.0.5 (pid 4711)"
    assert owner.describe() == (
        "alice (pid 4711, 'ctys -t QEMU -a CREATE=l:demo,CONNECT',"
        " since 2025-12-02 07:20:00 UTC, from 10.0.0.5 on /dev/pts/3)"
    )


def test_owner_record_of_the_earlier_format_and_of_nobody() -> None:
    assert parse_owner("1234\n") == ConsoleOwner(1234)
    assert ConsoleOwner(1234).describe() == "(pid 1234)"
    assert ConsoleOwner(1234).who() == "pid 1234"
    for text in ("", "\n", "user=alice\n", "pid=0\n", "pid=-3\n", "pid=x\n", "garbage"):
        assert parse_owner(text) is None, text


def test_owner_fields_with_control_characters_stay_escaped() -> None:
    owner = ConsoleOwner(pid=7, user="bob", cmd="ctys\n\x1b[2Jpwned\x07")
    text = format_owner(owner)
    assert len(text.splitlines()) == 4  # pid, user, cmd, notify: the newline split no field
    parsed = parse_owner(text)
    assert parsed is not None and parsed.cmd == "ctys\\n\\x1b[2Jpwned\\x07"
    # A hand-edited record is escaped on reading too.
    parsed = parse_owner("pid=9\nuser=\x1b]0;x\x07eve\n")
    assert parsed is not None and parsed.user == "\\x1b]0;x\\x07eve"
    assert parsed.describe().isprintable()


@given(
    pid=st.integers(1, 2**22),
    words=st.lists(st.text(min_size=1, max_size=30), max_size=4),
    since=st.one_of(st.none(), st.integers(0, 2**32).map(float)),
)
def test_owner_descriptions_are_one_printable_line(
    pid: int, words: list[str], since: float | None
) -> None:
    user, origin, tty, cmd = [*words, "", "", "", ""][:4]
    owner = ConsoleOwner(pid, user=user, origin=origin, tty=tty, since=since, cmd=cmd)
    parsed = parse_owner(format_owner(owner))
    assert parsed is not None and parsed.pid == pid and parsed.since == since
    assert parsed.describe().isprintable() and parsed.who().isprintable()


def test_this_process_names_user_pid_command_and_time(tmp_path: Path) -> None:
    before = time.time()
    me = this_process(notify=True, stdin_fd=-1)
    assert me.pid == os.getpid()
    assert me.user == pwd.getpwuid(os.getuid()).pw_name
    assert me.since is not None and before - 1 <= me.since <= time.time() + 1
    assert me.tty == "" and me.notify
    # The command starts at the program, not at the interpreter's path: a program of a
    # known name, since the test runner's own command line differs (pytest, a worker).
    prog = tmp_path / "myprog.py"
    prog.write_text(
        "from ctys.consoles.owner import this_process\n"
        "print(this_process(notify=False, stdin_fd=-1).cmd)\n"
    )
    shown = subprocess.run(
        [sys.executable, str(prog), "CREATE=l:demo", "x y"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == "myprog.py CREATE=l:demo x y"


# --- the replay -----------------------------------------------------------------------------


def test_tail_lines_bounds_by_lines_and_drops_a_cut_first_line() -> None:
    data = b"".join(b"line %d\r\n" % i for i in range(50))
    assert tail_lines(data, at_start=True, lines=3) == ["line 47", "line 48", "line 49"]
    assert tail_lines(b"t 1\nline 2\npartial", at_start=False) == ["line 2", "partial"]
    assert tail_lines(b"", at_start=True) == []
    assert tail_lines(b"x\n", at_start=True, lines=0) == []


def test_tail_lines_escape_what_the_guest_printed() -> None:
    # A C1 CSI encoded (escaped) and a lone byte 0x9b (not UTF-8: replaced, never sent).
    data = b"ok\ttab\r\n\x1b[31mred\x1b[0m \x07bell \xc2\x9b c1 \x9b\xff bad\n"
    assert tail_lines(data, at_start=True) == [
        "ok\ttab",
        "\\x1b[31mred\\x1b[0m \\x07bell \\x9b c1 \ufffd\ufffd bad",
    ]


def test_replay_text_is_bounded_framed_and_raw_terminal_ready(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    assert replay_text(log) == ""  # no log yet: nothing shown
    log.write_bytes(b"")
    assert replay_text(log) == ""
    log.write_bytes(b"".join(b"boot line %04d\r\n" % i for i in range(10000)))
    text = replay_text(log)
    lines = text.split("\r\n")
    assert lines[0] == "[ctys] the console's last 20 line(s):"
    assert lines[1:21] == [f"boot line {i:04d}" for i in range(9980, 10000)]
    assert lines[21:] == ["[ctys] live:", ""]
    # One huge line: at most REPLAY_BYTES of it, cut at the start.
    log.write_bytes(b"A" * 100000 + b"\nend\n")
    text = replay_text(log)
    assert len(text) < REPLAY_BYTES + 200
    assert "end" in text and "AAAA" not in text


# --- ownership and takeover -----------------------------------------------------------------


class MultiConsole:
    """A console server that serves one client after the other (as the VM's does)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received = bytearray()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(4)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                try:
                    while data := conn.recv(4096):
                        self.received += data
                        conn.sendall(data.upper())
                except OSError:
                    pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._listener.close()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[MultiConsole]:
    server = MultiConsole(tmp_path / "console.sock")
    yield server
    server.close()


_ATTACHER = (
    "import os, sys\n"
    "from pathlib import Path\n"
    "from ctys.consoles.serial import attach_serial\n"
    "from ctys.errors import CtysError\n"
    "fd = os.open(sys.argv[2], os.O_RDWR)\n"
    "try:\n"
    "    attach_serial(Path(sys.argv[1]), stdin_fd=fd, stdout_fd=fd, label='vm1')\n"
    "except CtysError as exc:\n"
    "    print('ctys:', exc, file=sys.stderr, flush=True); sys.exit(1)\n"
)


def _wait(predicate: object, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_held_console_is_refused_naming_its_attacher(console: MultiConsole) -> None:
    with claim_console(console.path, "vm1"):
        owner = console_owner(console_lock_path(console.path))
        assert owner is not None and owner.pid == os.getpid() and not owner.notify
        r, w = os.pipe()
        try:
            with pytest.raises(ConsoleInUse) as refused:
                attach_serial(console.path, stdin_fd=r, stdout_fd=w, label="vm1")
        finally:
            os.close(r)
            os.close(w)
    message = str(refused.value)
    user = pwd.getpwuid(os.getuid()).pw_name
    assert message.startswith(
        f"the console of vm1 is in use: attached by {user} (pid {os.getpid()}, '"
    )
    assert "since " in message and message.endswith("); CONNECT,FORCE takes it over")
    assert "\n" not in message
    assert console_owner(console_lock_path(console.path)) is None  # freed


def test_force_takes_over_a_terminal_attacher_which_is_told_and_restored(
    console: MultiConsole,
) -> None:
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    first = subprocess.Popen(
        [sys.executable, "-c", _ATTACHER, str(console.path), os.ttyname(slave)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(lambda: not termios.tcgetattr(slave)[3] & termios.ICANON, "first never attached")
        owner = console_owner(console_lock_path(console.path))
        assert owner is not None and owner.pid == first.pid and owner.notify
        assert owner.tty == os.ttyname(slave)

        # The second attacher (a pipe: a script) forces, sends, and gets the answer.
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        os.write(in_w, b"second here\n")
        os.close(in_w)
        attach_serial(console.path, stdin_fd=in_r, stdout_fd=out_w, force=True, linger=0.3)
        os.close(out_w)
        assert os.read(out_r, 4096) == b"SECOND HERE\n"
        for fd in (in_r, out_r):
            os.close(fd)

        _, err = first.communicate(timeout=10)
        assert first.returncode == 1
        me = this_process(notify=False)
        assert err.splitlines() == [
            f"ctys: the console of vm1 was taken over by {me.user}@{me.origin} (pid {os.getpid()})"
        ]
        assert termios.tcgetattr(slave) == before  # its terminal is back in cooked mode
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        os.close(master)
        os.close(slave)
    assert console_owner(console_lock_path(console.path)) is None


def test_force_ends_a_holder_that_cannot_be_asked(console: MultiConsole) -> None:
    # A holder without the SIGUSR1 handler (a script's SerialConsole): SIGTERM, as RECONNECT.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER_CODE, str(console.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        started = time.monotonic()
        with claim_console(console.path, "vm1", force=True):
            assert holder.wait(timeout=5) == -15
            owner = console_owner(console_lock_path(console.path))
            assert owner is not None and owner.pid == os.getpid()
        assert time.monotonic() - started < serial_module.TAKEOVER_GRACE
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
