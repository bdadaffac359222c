"""Who holds a serial console: the owner record an attacher writes into ``console.lock``.

The lock file (0600, in the VM's private runtime folder) holds one ``key=value`` line per
field while its ``flock`` is held::

    pid=4711
    user=alice
    origin=10.0.0.5          (the ssh client's address, else this host's name)
    tty=/dev/pts/3
    since=1764660000
    cmd=ctys -t ... CREATE=l:demo,CONNECT
    notify=1                 (the holder detaches cleanly on SIGUSR1: see serial.py)

Values are written escaped (``ctys.textescape``), so every field is one printable line.
A file holding only a pid (the earlier format) still names its holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ctys.textescape import printable

_MAX_RECORD = 4096
_CMD_MAX = 300  # characters of the command line kept: enough to recognise it


@dataclass(frozen=True)
class ConsoleOwner:
    """The attacher of a console, as far as it is known."""

    pid: int
    user: str = ""
    origin: str = ""
    tty: str = ""
    since: float | None = None
    cmd: str = ""
    notify: bool = False

    def who(self) -> str:
        """``alice@10.0.0.5 (pid 4711)``: the short form a taken-over attacher is told."""
        at = f"{self.user}@{self.origin}" if self.user and self.origin else self.user
        return f"{at} (pid {self.pid})" if at else f"pid {self.pid}"

    def describe(self) -> str:
        """Everything known, on one line: user, pid, command, since when, host and tty."""
        parts = [f"pid {self.pid}"]
        if self.cmd:
            parts.append(f"'{self.cmd}'")
        if self.since is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
            parts.append(f"since {stamp}")
        where = " ".join(
            text
            for text in (self.origin and f"from {self.origin}", self.tty and f"on {self.tty}")
            if text
        )
        if where:
            parts.append(where)
        head = f"{self.user} " if self.user else ""
        return f"{head}({', '.join(parts)})"


def format_owner(owner: ConsoleOwner) -> str:
    """The lock file's text for ``owner``."""
    fields = {
        "pid": str(owner.pid),
        "user": owner.user,
        "origin": owner.origin,
        "tty": owner.tty,
        "since": "" if owner.since is None else f"{owner.since:.0f}",
        "cmd": owner.cmd,
        "notify": "1" if owner.notify else "0",
    }
    return "".join(f"{key}={printable(value)}\n" for key, value in fields.items() if value)


def parse_owner(text: str) -> ConsoleOwner | None:
    """The owner in a lock file's text; None when it names no pid (a free console)."""
    lines = text.splitlines()
    if len(lines) == 1 and lines[0].strip().isdigit():
        return ConsoleOwner(int(lines[0].strip()))
    fields: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            # Re-escaped: a hand-edited file must not put control characters on a terminal.
            fields[key.strip()] = printable(value.strip())
    pid = fields.get("pid", "")
    if not pid.isdigit() or int(pid) <= 0:
        return None
    since_text = fields.get("since", "")
    return ConsoleOwner(
        pid=int(pid),
        user=fields.get("user", ""),
        origin=fields.get("origin", ""),
        tty=fields.get("tty", ""),
        since=float(since_text) if since_text.isdigit() else None,
        cmd=fields.get("cmd", ""),
        notify=fields.get("notify") == "1",
    )


def read_owner_fd(fd: int) -> ConsoleOwner | None:
    """The owner recorded in the open lock file ``fd``."""
    try:
        data = os.pread(fd, _MAX_RECORD, 0)
    except OSError:
        return None
    return parse_owner(data.decode("utf-8", "replace"))


def console_owner(lock: Path) -> ConsoleOwner | None:
    """The attacher holding ``lock`` now, or None when nobody does (its flock is free)."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_owner_fd(fd) or ConsoleOwner(0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # nobody holds it: whatever text is left names nobody
    finally:
        os.close(fd)


def this_process(*, notify: bool, stdin_fd: int = 0) -> ConsoleOwner:
    """The owner record of this process (what a new attacher writes)."""
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    ssh = os.environ.get("SSH_CONNECTION", "").split()
    origin = ssh[0] if ssh else socket.gethostname()
    tty = ""
    with contextlib.suppress(OSError):
        tty = os.ttyname(stdin_fd)
    return ConsoleOwner(
        pid=os.getpid(),
        user=user,
        origin=origin,
        tty=tty,
        since=time.time(),
        cmd=_command_line()[:_CMD_MAX],
        notify=notify,
    )


def _command_line() -> str:
    """This process's command line (``/proc``, else ``sys.argv``), words joined by blanks."""
    try:
        raw = Path("/proc/self/cmdline").read_bytes()
        words = [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]
    except OSError:
        words = list(sys.argv)
    # The interpreter's path says nothing useful: start at the program (ctys ...).
    if len(words) > 1 and Path(words[0]).name.startswith("python"):
        words = words[2:] if words[1] == "-m" else words[1:]
    if words:
        words[0] = Path(words[0]).name
    return " ".join(words)
