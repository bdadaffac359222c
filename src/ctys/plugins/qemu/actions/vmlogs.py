"""INFO=<address>,LOG[:LINES]: the console log and qemu.log of a VM, running or not.

A running VM's logs are in its runtime folder; once it has stopped (CANCEL, a guest
poweroff, a kill: every way its folder goes passes ``VmRuntimeDir.remove``) they are the
newest run's kept copies (``vm.runlogs``). Lines are shown with their control characters
escaped (``ctys.textescape``): a guest's console output never drives the terminal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.plugins.qemu.vm.runlogs import LOG_NAMES, logs_root
from ctys.textescape import printable

DEFAULT_LINES = 20  # LOG without LINES
INFO_LINES = 5  # the last lines INFO=<address> shows of each log
MAX_LINES = 100_000
_READ_LIMIT = 1 << 20  # at most the last MiB of a log is read for its last lines


@dataclass(frozen=True)
class LogTail:
    """The last lines of one log of a VM (``path`` None: there is none)."""

    name: str  # qemu.log or console.log
    path: Path | None
    lines: tuple[str, ...] = ()
    live: bool = False  # the running VM's own log (else the kept copy of its last run)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path) if self.path else None,
            "live": self.live,
            "lines": list(self.lines),
        }


def tail_lines(data: bytes, count: int) -> tuple[str, ...]:
    """The last ``count`` lines of ``data``, decoded leniently, each a printable line
    (carriage returns of a serial console dropped, other control characters escaped;
    tabs kept)."""
    if count <= 0:
        return ()
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    return tuple(
        printable(line.rstrip("\r").replace("\r", ""), keep="\t") for line in lines[-count:]
    )


def read_tail(path: Path, count: int, limit: int = _READ_LIMIT) -> tuple[str, ...]:
    """The last ``count`` lines of the file ``path`` (at most its last ``limit`` bytes
    are read; a first partial line is dropped); () when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ()
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        start = max(0, size - limit)
        fh.seek(start)
        data = fh.read(limit)
    if start and b"\n" in data:
        data = data.split(b"\n", 1)[1]
    return tail_lines(data, count)


def log_folders(
    vmid: str, live_folder: Path | None, root: Path | None = None
) -> list[tuple[Path, bool]]:
    """Where the logs of VM ``vmid`` are: its runtime folder while it exists, then the
    kept logs of its last run."""
    folders: list[tuple[Path, bool]] = []
    if live_folder is not None and live_folder.is_dir():
        folders.append((live_folder, True))
    folders.append(((root or logs_root()) / vmid, False))
    return folders


def vm_logs(
    vmid: str,
    live_folder: Path | None,
    count: int,
    *,
    names: Sequence[str] = LOG_NAMES,
    root: Path | None = None,
) -> list[LogTail]:
    """The last ``count`` lines of each log in ``names`` of VM ``vmid``, from the first
    folder of ``log_folders`` that has it."""
    tails = []
    for name in names:
        tail = LogTail(name, None)
        for folder, live in log_folders(vmid, live_folder, root):
            path = folder / name
            if path.is_file() and not path.is_symlink():
                tail = LogTail(name, path, read_tail(path, count), live)
                break
        tails.append(tail)
    return tails
