"""Opening the inventory for reading only: queries, address resolution and ``-C list``
never write it, so a shared inventory (a file 0444, another user's, a read-only mount)
answers them.

SQLite is opened with a ``mode=ro`` URI. In WAL mode even a reader needs the ``-shm``
file; where it cannot be made (the folder is not writable for us), the file is opened
``immutable=1``: no locks and no side files, which is right for a file nobody can write
while we read, and only a snapshot otherwise.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ctys.errors import CtysError
from ctys.inventory.quickread import readonly_uri

# SQLite result codes that say "cannot open/write here", not "this file is damaged".
_ACCESS_ERRORS = (
    "SQLITE_READONLY",
    "SQLITE_CANTOPEN",
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_PERM",
)


def is_access_error(err: sqlite3.Error) -> bool:
    """Whether ``err`` is about where the file lives (read-only, full, no access)."""
    name = str(getattr(err, "sqlite_errorname", ""))
    return name.startswith(_ACCESS_ERRORS)


def connect_readonly(path: Path, timeout: float) -> sqlite3.Connection:
    """A read-only connection to the existing inventory at ``path`` whose schema was read
    once (so an unusable file fails here); ``CtysError`` naming the path otherwise."""
    if not path.is_file():
        raise CtysError(f"no inventory at {path}")
    try:
        return _checked(_connect(path, timeout, immutable=False))
    except sqlite3.Error as err:
        if not is_access_error(err) or _writable(path):
            raise _error(path, err) from err
    try:
        return _checked(_connect(path, timeout, immutable=True))
    except sqlite3.Error as err:
        raise _error(path, err) from err


def _connect(path: Path, timeout: float, *, immutable: bool) -> sqlite3.Connection:
    uri = readonly_uri(str(path), immutable=immutable)
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout)


def _checked(db: sqlite3.Connection) -> sqlite3.Connection:
    # The first read opens the file for real (and its -wal/-shm): errors show here.
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        db.close()
        raise
    return db


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _error(path: Path, err: sqlite3.Error) -> CtysError:
    if is_access_error(err):
        return CtysError(f"inventory {path}: cannot read: {err}")
    return CtysError(f"{path}: not a ctys inventory or damaged: {err}")
