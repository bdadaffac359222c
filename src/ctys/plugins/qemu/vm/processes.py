"""Find running QEMU processes in the process table (any user), read from ``/proc``.

LIST shows VMs this tool did not start, so it looks at every process, not only ours.
One pass over ``/proc/*/cmdline`` finds the qemus; only for those are ``status`` (the
owner) and ``stat`` (the start time) read. No psutil: its import alone costs LIST more
than the whole scan. Processes of other users may refuse some files, and processes end
while being read; both are skipped silently (or the refused fact left empty).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ctys.pathutil import canonical_path

if TYPE_CHECKING:
    # The command-line parser (its dataclasses) loads once a qemu is found: LIST with
    # none does not pay for it.
    from ctys.plugins.qemu.vm.cmdline import QemuCmdline

_PROC = "/proc"
_QEMU_NAME = r"qemu-system-[A-Za-z0-9_.-]+|qemu-kvm|kvm"


def is_qemu_binary(path: str) -> bool:
    """True when the file name of ``path`` is a QEMU system emulator: ``qemu-system-*``,
    ``qemu-kvm`` or ``kvm`` (any directory)."""
    if "qemu" not in path and "kvm" not in path:
        return False  # most processes: no pattern compiled or matched (LIST asks them all)
    return re.fullmatch(_QEMU_NAME, PurePosixPath(path).name) is not None


@dataclass(frozen=True)
class QemuProcess:
    """One running qemu: who runs it, since when, and what its command line says."""

    pid: int
    user: str | None
    create_time: float
    cmdline: QemuCmdline


def _looks_like_qemu(exe: str | None, argv: list[str] | None) -> bool:
    # argv[0] first: /proc/PID/exe of another user's process is often unreadable, and a
    # deleted-and-upgraded binary reads as "qemu-system-x86_64 (deleted)".
    if not argv:
        return False  # kernel threads (e.g. "kvm-pit/...") have no argv
    return is_qemu_binary(argv[0]) or (exe is not None and is_qemu_binary(exe))


def _read(pid: int, name: str) -> bytes:
    return Path(f"{_PROC}/{pid}/{name}").read_bytes()


def parse_cmdline(data: bytes) -> list[str]:
    """``/proc/PID/cmdline`` as argv (NUL-separated; a process that rewrote its title
    into one string is split at spaces, as ``ps`` shows it)."""
    text = os.fsdecode(data)
    if "\0" not in text:
        return text.split()
    words = text.split("\0")
    if words and words[-1] == "":
        words.pop()
    return words


def process_argv(pid: int) -> list[str] | None:
    """The argv of ``pid`` from ``/proc``; ``None`` when it is gone or not ours to read."""
    try:
        return parse_cmdline(_read(pid, "cmdline"))
    except OSError:  # gone, or not ours to read
        return None


def _comm(pid: int) -> str:
    """The kernel's name of the process (at most 15 characters: ``qemu-system-x86``)."""
    try:
        return os.fsdecode(_read(pid, "comm")).rstrip("\n")
    except OSError:
        return ""


def _is_qemu_name(comm: str) -> bool:
    # The kernel cuts names at 15 characters: "qemu-system-x86" for qemu-system-x86_64.
    return is_qemu_binary(comm) or comm.startswith("qemu-system-")


@functools.cache
def _boot_time() -> float:
    for line in Path(f"{_PROC}/stat").read_bytes().splitlines():
        if line.startswith(b"btime "):
            return float(line.split()[1])
    return 0.0


@functools.cache
def _user_name(uid: int) -> str:
    import pwd  # only when a qemu is found

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)  # a uid without a name, as ps shows it


def parse_stat_start(stat: bytes) -> int:
    """The start time field (22, clock ticks since boot) of ``/proc/PID/stat``; the
    command name before it (in parentheses) may hold spaces and parentheses itself."""
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[19])


def status_ids(status: bytes, key: bytes) -> int | None:
    """The real id of ``Uid:`` or ``Gid:`` (``key``) in ``/proc/PID/status``."""
    for line in status.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return None


def process_gid(pid: int) -> int | None:
    """The real group id of process ``pid``; ``None`` when it is gone or unreadable."""
    return _status_id(pid, b"Gid:")


def process_uid(pid: int) -> int | None:
    """The real user id of process ``pid``; ``None`` when it is gone or unreadable."""
    return _status_id(pid, b"Uid:")


def _status_id(pid: int, key: bytes) -> int | None:
    try:
        return status_ids(_read(pid, "status"), key)
    except (OSError, ValueError, IndexError):
        return None


def pidfile_process(pidfile: Path) -> tuple[int, list[str]] | None:
    """The living (not zombie) process a daemon's pid file names, with its argv; ``None``
    when the file is unreadable or the process gone. The caller checks that the argv is its
    daemon's (a pid may have been recycled)."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    argv = process_argv(pid) if process_running(pid) else None
    return (pid, argv) if argv else None


def process_running(pid: int) -> bool:
    """True while ``pid`` exists and is no zombie (state ``Z``/``X`` in its ``stat``)."""
    if pid <= 0:
        return False
    try:
        stat = _read(pid, "stat")
        state = stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3]
    except (OSError, ValueError):
        return False
    return state not in (b"Z", b"X", b"")


def _qemu_process(pid: int, argv: list[str]) -> QemuProcess | None:
    """The owner and start time of qemu ``pid`` (``None``: it ended meanwhile)."""
    from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline

    try:
        stat = _read(pid, "stat")
    except OSError:
        return None
    uid = _status_id(pid, b"Uid:")
    try:
        started = _boot_time() + parse_stat_start(stat) / os.sysconf("SC_CLK_TCK")
    except (ValueError, IndexError, OSError):
        return None
    user = _user_name(uid) if uid is not None else None
    return QemuProcess(pid, user, started, parse_qemu_cmdline(argv))


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path(_PROC).iterdir() if entry.name.isdigit()]


def scan_qemu_processes() -> list[QemuProcess]:
    """Every qemu process on this host (``qemu-system-*``, ``qemu-kvm``, ``kvm``), sorted by
    pid. Processes that vanish or refuse access while being read are left out.

    Only argv (and, when argv[0] is no qemu, the kernel's process name) is read for every
    process; owner and start time only for the qemu ones (this runs before every CREATE
    and in every LIST, so it must stay cheap)."""
    found: list[QemuProcess] = []
    for pid in _pids():
        argv = process_argv(pid)
        if not argv:
            continue  # kernel threads, zombies, gone
        if not (is_qemu_binary(argv[0]) or _is_qemu_name(_comm(pid))):
            continue
        proc = _qemu_process(pid, argv)
        if proc is not None:
            found.append(proc)
    found.sort(key=lambda p: p.pid)
    return found


def read_qemu_process(pid: int) -> QemuProcess | None:
    """The qemu running as ``pid``, or ``None`` when there is none (gone, not a qemu, or
    not readable)."""
    if pid <= 0:
        return None
    argv = process_argv(pid)
    if not argv:
        return None
    try:
        exe: str | None = str(Path(f"{_PROC}/{pid}/exe").readlink())
    except OSError:  # another user's process, or gone
        exe = None
    if not _looks_like_qemu(exe, argv):
        return None
    return _qemu_process(pid, argv)


def references_dir(process: QemuProcess, runtime_vm_dir: Path) -> bool:
    """True when the process's command line names ``runtime_vm_dir`` or a file in it
    (compared both as given and with symlinks resolved)."""
    candidates = {str(runtime_vm_dir)}
    candidates.add(str(canonical_path(runtime_vm_dir)))
    return any(process.cmdline.references(c) for c in candidates)
