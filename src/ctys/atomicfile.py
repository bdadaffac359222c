"""Files written whole or not at all: a full disk (or Ctrl-C) leaves neither a 0-byte
nor a half-written file, and an older file of that name stays as it was."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


def write_text_atomically(
    path: Path,
    write: Callable[[TextIO], object],
    *,
    mode: int | None = None,
    durable: bool = True,
) -> None:
    """Call ``write`` with a text stream on a temp file beside ``path``, then fsync it and
    rename it over ``path``. Any error (``OSError`` from a full disk included) removes the
    temp file and is raised again. The file gets ``mode`` when given; else a new file gets
    the mode ``open()`` would give it, a replaced one keeps its mode.

    ``durable=False`` is for runtime state in a private folder (a VM's record), which no
    crash of the machine outlives: no fsync (milliseconds on a busy disk, before every VM
    start), and the temp file is named by process and thread instead of
    ``tempfile``'s random name. It is still whole or absent for every reader, also when
    the writer is killed (the page cache outlives the process)."""
    fd, tmp = _temp_file(path, random_name=durable)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            write(fh)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        tmp.chmod(_mode_for(path) if mode is None else mode)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _temp_file(path: Path, *, random_name: bool) -> tuple[int, Path]:
    """A new temp file beside ``path`` (mode 0600), open for writing."""
    if random_name:
        import tempfile  # (5 ms with random and shutil: only a writer pays for it)

        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        return fd, Path(name)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_native_id()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a killed process that had this pid
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(tmp, flags, 0o600), tmp


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
