"""Advisory file locks (flock): the one way ctys serialises starts, switches and builds."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ctys.errors import CtysError


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created 0600 when missing), waiting for it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise CtysError(f"cannot create lock file {path}: {err.strerror or err}") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def try_exclusive_lock(path: Path, *, create: bool = False) -> Iterator[bool]:
    """The lock on ``path`` without waiting: yields False while someone else holds it,
    True (holding it) otherwise; a lock file that does not exist was never taken (with
    ``create``, it is created 0600 and taken, so nobody can take it meanwhile)."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
    except OSError:
        yield not create  # a lock that cannot be created cannot be held either
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
