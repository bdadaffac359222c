"""Tiny tmpfs mounts for tests of full and read-only filesystems (root only; the
fixtures skip where mounting is not allowed)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(target: Path, size: str) -> bool:
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def full_fs(short_tmp: Path) -> Iterator[Path]:
    """A mounted 64 KiB tmpfs, filled up: folders can be made, no byte can be written."""
    mnt = short_tmp / "full"
    mnt.mkdir()
    if os.getuid() != 0 or not _mount(mnt, "64k"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC
        finally:
            os.close(fd)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def readonly_fs(short_tmp: Path) -> Iterator[Path]:
    """A mounted tmpfs, remounted read-only (even root cannot write there)."""
    mnt = short_tmp / "ro"
    mnt.mkdir()
    if os.getuid() != 0 or not _mount(mnt, "4m"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def remount_readonly(mnt: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
