"""Read a file of the user's own definitions (host groups, macros) only when nobody else
could have written it.

A group file says which hosts ctys logs in to and with which options; a macro file becomes
part of the command line. Whoever can write such a file steers the caller's ctys, so, like
ssh with ``~/.ssh/config``, ctys refuses one that is not owned by the caller or root, or
that group or others may write. The checks are made on the opened file (``fstat``), so a
file swapped in between check and read is not read. Core module: imports only
``ctys.errors``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ctys.errors import CtysError

__all__ = ["MAX_BYTES", "read_trusted_text", "untrusted_reason"]

# Definitions are a few lines; a name that happens to be a big file (a log) is no group.
MAX_BYTES = 1 << 20


def untrusted_reason(info: os.stat_result, uid: int | None = None) -> str | None:
    """Why a file with this ``stat`` must not be read as definitions, ``None`` when it may:
    not a regular file, owned by someone else than ``uid`` (default: the caller) or root,
    writable by group or others, larger than ``MAX_BYTES``."""
    me = os.getuid() if uid is None else uid
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid not in (me, 0):
        return f"owned by uid {info.st_uid}, not by you or root"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by group or others (chmod go-w)"
    if info.st_size > MAX_BYTES:
        return f"larger than {MAX_BYTES} bytes"
    return None


def read_trusted_text(path: Path, what: str) -> str:
    """The text of ``path`` (UTF-8, undecodable bytes replaced) after the checks above;
    ``CtysError`` naming ``what`` (e.g. "group file"), the path and the reason otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise CtysError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        reason = untrusted_reason(os.fstat(fd))
        if reason is not None:
            raise CtysError(f"refusing {what} {path}: {reason}")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise CtysError(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace")
