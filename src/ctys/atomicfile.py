"""Files written whole or not at all: a full disk (or Ctrl-C) leaves neither a 0-byte
nor a half-written file, and an older file of that name stays as it was."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


def write_text_atomically(
    path: Path, write: Callable[[TextIO], object], *, mode: int | None = None
) -> None:
    """Call ``write`` with a text stream on a temp file beside ``path``, then fsync it and
    rename it over ``path``. Any error (``OSError`` from a full disk included) removes the
    temp file and is raised again. The file gets ``mode`` when given; else a new file gets
    the mode ``open()`` would give it, a replaced one keeps its mode."""
    import tempfile  # (5 ms with random and shutil: only a writer pays for it)

    folder = path.parent
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(_mode_for(path) if mode is None else mode)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
