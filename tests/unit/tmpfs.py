"""Tiny tmpfs mounts for tests of full and read-only filesystems (root only; the
fixtures skip where mounting is not allowed)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def mounted(mnt: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on the new folder ``mnt`` (skips the test where we may
    not mount); unmounted afterwards."""
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if os.getuid() != 0 or done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> None:
    """Write zeros to the new file ``path`` until its filesystem is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError as err:
        assert err.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.fixture
def full_fs(short_tmp: Path) -> Iterator[Path]:
    """A mounted 64 KiB tmpfs, filled up: folders can be made, no byte can be written."""
    with mounted(short_tmp / "full", "64k") as mnt:
        fill(mnt / "filler")
        yield mnt


@pytest.fixture
def readonly_fs(short_tmp: Path) -> Iterator[Path]:
    """A mounted tmpfs, to be remounted read-only (``remount_readonly``) once filled."""
    with mounted(short_tmp / "ro", "4m") as mnt:
        yield mnt


def remount_readonly(mnt: Path) -> None:
    """Make ``mnt`` read-only: then even root cannot write there (EROFS)."""
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
