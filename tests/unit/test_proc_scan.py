"""The qemu process scan reads /proc itself (no psutil on LIST's path): its parsers, and
the scan of real processes checked against psutil as the oracle."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ctys.plugins.qemu.vm.processes import (
    parse_cmdline,
    parse_stat_start,
    process_gid,
    process_running,
    process_uid,
    read_qemu_process,
    scan_qemu_processes,
    status_ids,
)


def test_parse_cmdline_splits_at_nul_and_drops_the_last_empty_word() -> None:
    assert parse_cmdline(b"qemu-system-x86_64\0-name\0a b\0") == [
        "qemu-system-x86_64",
        "-name",
        "a b",
    ]
    assert parse_cmdline(b"qemu-system-x86_64\0-name\0\0") == ["qemu-system-x86_64", "-name", ""]


def test_parse_cmdline_of_a_rewritten_title_splits_at_spaces() -> None:
    assert parse_cmdline(b"sshd: user [priv]") == ["sshd:", "user", "[priv]"]
    assert parse_cmdline(b"") == []


def test_parse_cmdline_keeps_undecodable_bytes() -> None:
    [word] = parse_cmdline(b"/vm/\xff.img\0")
    assert os.fsencode(word) == b"/vm/\xff.img"


def test_parse_stat_start_survives_a_name_with_spaces_and_parentheses() -> None:
    rest = " ".join(str(n) for n in range(3, 30))  # fields 3.. (state is field 3)
    stat = f"4711 (qemu (x) y) {rest}".encode()
    assert parse_stat_start(stat) == 22  # field 22 counted from 1


def test_status_ids_reads_the_real_id() -> None:
    status = b"Name:\tqemu\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\n"
    assert status_ids(status, b"Uid:") == 1000
    assert status_ids(status, b"Gid:") == 50
    assert status_ids(b"Name:\tx\n", b"Uid:") is None


@pytest.fixture
def fake_qemu(tmp_path: Path) -> Iterator[Path]:
    """A program named ``qemu-system-x86_64`` (python under that name: it takes any words
    after its ``-c`` program)."""
    link = tmp_path / "qemu-system-x86_64"
    link.symlink_to(Path(sys.executable).resolve())
    yield link


_SLEEP = ("-c", "import time; time.sleep(60)")


def _started(argv: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv)
    deadline = time.monotonic() + 10
    while not Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # The exec may not have happened yet: wait until argv is the program's own.
    while Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[-2] != b"60":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return proc


def test_the_scan_finds_a_qemu_with_psutils_owner_and_start_time(fake_qemu: Path) -> None:
    proc = _started([str(fake_qemu), *_SLEEP, "-name", "probe", "60"])
    try:
        [found] = [p for p in scan_qemu_processes() if p.pid == proc.pid]
        oracle = psutil.Process(proc.pid)
        assert found.user == oracle.username() == getpass.getuser()
        assert abs(found.create_time - oracle.create_time()) < 0.05
        assert found.cmdline.name == "probe"
        again = read_qemu_process(proc.pid)
        assert again is not None and again.create_time == found.create_time
        assert process_gid(proc.pid) == oracle.gids().real
        assert process_uid(proc.pid) == oracle.uids().real == os.getuid()
        assert process_running(proc.pid)
        proc.kill()
        deadline = time.monotonic() + 10
        while oracle.status() != psutil.STATUS_ZOMBIE:  # killed, not yet reaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not process_running(proc.pid)  # a zombie is gone
    finally:
        proc.kill()
        proc.wait()
    assert not process_running(proc.pid)
    assert read_qemu_process(proc.pid) is None
    assert process_gid(proc.pid) is None
    assert process_uid(proc.pid) is None
    assert all(p.pid != proc.pid for p in scan_qemu_processes())


def test_the_scan_finds_a_qemu_whose_argv0_was_renamed(fake_qemu: Path) -> None:
    # The kernel's name of the process (comm) still says qemu-system-x86 (cut at 15).
    proc = _started(
        ["bash", "-c", f'exec -a renamed "{fake_qemu}" {" ".join(map(repr, _SLEEP))} 60']
    )
    try:
        [found] = [p for p in scan_qemu_processes() if p.pid == proc.pid]
        assert found.cmdline.binary == "renamed"
    finally:
        proc.kill()
        proc.wait()


def test_the_scan_skips_other_programs_and_read_refuses_them() -> None:
    proc = _started(["sleep", "60"])
    try:
        assert all(p.pid != proc.pid for p in scan_qemu_processes())
        assert read_qemu_process(proc.pid) is None
    finally:
        proc.kill()
        proc.wait()
    assert read_qemu_process(0) is None
    assert read_qemu_process(-1) is None
