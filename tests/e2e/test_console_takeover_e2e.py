"""Console ownership on the real tiny guest: CONNECT replays the console's last lines, a
second CONNECT is refused naming the first, CONNECT,FORCE takes the console over (the
first is told and its terminal restored), locally and on a remote host over ssh."""

from __future__ import annotations

import os
import pty
import pwd
import re
import socket
import subprocess
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeAlias

import pytest

from ctys.plugins.qemu.demo.demovm import write_demo_conf
from support.cli import CTYS
from support.ptyio import pty_read_until

pytestmark = pytest.mark.e2e

READY = b"CTYS-GUEST-READY"  # the tiny guest's last boot line before its shell
PROMPT = "guest#"
Popen: TypeAlias = subprocess.Popen[bytes]


@contextmanager
def attacher(argv: list[str], env: dict[str, str]) -> Iterator[tuple[Popen, int, int]]:
    """``argv`` on a terminal of its own (a pty): the process, the pty's main side and its
    terminal side (kept open here so that its modes can be read after the process left)."""
    main, tty = pty.openpty()
    proc = subprocess.Popen(
        argv, env=env, stdin=tty, stdout=tty, stderr=tty, start_new_session=True
    )
    try:
        yield proc, main, tty
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
        os.close(tty)


def test_connect_replays_refuses_a_second_and_force_takes_over(ctys, make_vm, ctys_env) -> None:
    make_vm("own")
    booted = ctys("-t", "QEMU", "-a", f"CREATE=l:own,CONSOLE:CLI,WAIT:{PROMPT}", "-b", "1")
    assert booted.returncode == 0, booted.stderr
    connect = [*CTYS, "-t", "QEMU", "-a", "CREATE=l:own,CONNECT"]
    with attacher(connect, ctys_env) as (first, main1, tty1):
        cooked = termios.tcgetattr(tty1)
        seen = pty_read_until(main1, b"[ctys] attached to own", timeout=60)
        # The replay: the guest's last boot lines, framed, before the live stream.
        replay = seen.split(b"[ctys] the console's last ", 1)[1]
        assert READY in replay.split(b"[ctys] live:")[0], seen
        os.write(main1, b"echo one-$((1+1))\r")
        pty_read_until(main1, b"one-2")

        # A second CONNECT: one line naming the first (its pid and command), exit 1.
        second = ctys("-t", "QEMU", "-a", "CREATE=l:own,CONNECT", stdin="echo nope\n")
        assert second.returncode == 1, (second.stdout, second.stderr)
        (line,) = second.stderr.splitlines()
        user = pwd.getpwuid(os.getuid()).pw_name
        assert line.startswith(f"ctys: the console of own is in use: attached by {user} ")
        assert f"(pid {first.pid}, 'ctys " in line and "CREATE=l:own,CONNECT'" in line
        assert re.search(r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", line), line
        assert f"on {os.ttyname(tty1)})" in line, line
        assert line.endswith("; CONNECT,FORCE takes it over")
        assert "nope" not in second.stdout

        # CONNECT,FORCE takes it over: the first is told, detached, its terminal restored.
        force = [*CTYS, "-t", "QEMU", "-a", "CREATE=l:own,CONNECT,FORCE"]
        with attacher(force, ctys_env) as (third, main3, _tty3):
            pty_read_until(main3, b"[ctys] attached to own", timeout=60)
            told = pty_read_until(main1, b")\r\n", timeout=20)
            host = socket.gethostname()
            said = f"ctys: the console of own was taken over by {user}@{host} (pid {third.pid})"
            assert said.encode() in told, told
            assert first.wait(timeout=20) == 1
            assert termios.tcgetattr(tty1) == cooked
            # The new attacher has the guest's shell.
            os.write(main3, b"echo two-$((2*3))\r")
            pty_read_until(main3, b"two-6")
            os.write(main3, b"\x1d")
            pty_read_until(main3, b"[ctys] detached from own")
            assert third.wait(timeout=20) == 0
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:own,FORCE").returncode == 0


def test_force_needs_an_attaching_create(ctys, make_vm) -> None:
    make_vm("own")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:own,FORCE")
    assert done.returncode != 0
    assert done.stderr.splitlines() == [
        "ctys: FORCE takes over a VM's console: give it with CONNECT, REUSE or RECONNECT"
    ]


def test_remote_force_takes_over_and_the_first_user_is_told(
    rctys, ssh_hosts, guest, ctys_env
) -> None:
    [host_a] = ssh_hosts(1)
    write_demo_conf(host_a.vms / "far", guest, "far")
    env = {**ctys_env, **ssh_hosts.remote_env}
    argv = [*CTYS, "-t", "QEMU"]
    booted = rctys(
        "-t", "QEMU", "-a", f"CREATE=l:far,CONSOLE:CLI,WAIT:{PROMPT}", "-b", "1", "hostA",
        timeout=150,
    )  # fmt: skip
    assert booted.returncode == 0, booted.stderr
    try:
        with attacher([*argv, "-a", "CREATE=l:far,CONNECT", "hostA"], env) as (first, main1, _):
            seen = pty_read_until(main1, b"[ctys] attached to far", timeout=60)
            assert READY in seen  # the remote ctys replayed the console's end
            refused = subprocess.run(
                [*argv, "-a", "CREATE=l:far,CONNECT", "hostA"],
                env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            assert refused.returncode != 0
            assert "the console of far is in use: attached by " in refused.stderr, refused.stderr
            assert "CONNECT,FORCE takes it over" in refused.stderr
            force = [*argv, "-a", "CREATE=l:far,CONNECT,FORCE", "hostA"]
            with attacher(force, env) as (second, main2, _):
                pty_read_until(main2, b"[ctys] attached to far", timeout=60)
                told = pty_read_until(main1, b")\r\n", timeout=30)
                assert b"ctys: the console of far was taken over by " in told, told
                assert first.wait(timeout=30) != 0
                os.write(main2, b"echo far-$((5*5))\r")
                pty_read_until(main2, b"far-25")
                os.write(main2, b"\x1d")
                pty_read_until(main2, b"[ctys] detached from far")
                assert second.wait(timeout=30) == 0
    finally:
        subprocess.run(
            [*argv, "-a", "CANCEL=l:far,FORCE", "hostA"],
            env=env, capture_output=True, timeout=90, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
