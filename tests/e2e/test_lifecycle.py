"""CREATE → console → LIST → CANCEL with the real tiny guest under TCG."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from ctys.consoles.serial import SerialConsole
from support.cli import CTYS
from support.procs import live_qemu_pids
from support.rows import list_rows

READY = "CTYS-GUEST-READY"
PROMPT = "guest#"  # the serial shell is up; input typed before it would be lost


def _console_socket(ctys_env: dict[str, str], label: str) -> Path:
    found = list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob(f"{label}-*/console.sock"))
    assert len(found) == 1, found
    return found[0]


def test_cli_console_list_and_graceful_cancel(ctys, make_vm, ctys_env) -> None:
    make_vm("vm1")
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:vm1,CONSOLE:CLI,WAIT:{PROMPT}", "-b", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("vm1: started (pid ")

    with SerialConsole(_console_socket(ctys_env, "vm1"), timeout=20) as console:
        console.send_line("echo answer-$((6*7))")
        assert b"answer-42" in console.read_until(b"answer-42")

        [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
        assert row["LABEL"] == "vm1"
        assert row["MANAGED"] is True or row["MANAGED"] == "yes"
        assert row["STATE"] == "running"
        assert str(row["ACCEL"]).upper() == "TCG"
        assert str(row["CONSOLE"]).endswith("console.sock")

        cancel = ctys("-t", "QEMU", "-a", "CANCEL=l:vm1,TIMEOUT:20")
        assert cancel.returncode == 0, cancel.stderr
        assert "powered off by the guest (ACPI)" in cancel.stdout
        # The guest itself saw the ACPI power button before it powered off.
        console.read_until(b"CTYS-GUEST: power button", timeout=5)

    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []
    assert list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"]) == []


def test_cancel_of_guest_ignoring_acpi_falls_back_to_quit(ctys, make_vm, ctys_env) -> None:
    make_vm("deaf", noacpi=True)
    assert ctys("-t", "QEMU", "-a", f"CREATE=l:deaf,WAIT:{READY}", "-b", "1").returncode == 0
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:deaf,TIMEOUT:2")
    assert done.returncode == 0, done.stderr
    assert "stopped by QEMU quit after the guest ignored ACPI for 2s" in done.stdout
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []


def test_cancel_force(ctys, make_vm, ctys_env) -> None:
    make_vm("deaf2", noacpi=True)
    assert ctys("-t", "QEMU", "-a", f"CREATE=l:deaf2,WAIT:{READY}", "-b", "1").returncode == 0
    # FORCE is a flag (no VM-STACK propagation); S5:0: no wait for a guest deaf to ACPI.
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:deaf2,FORCE,S5:0")
    assert done.returncode == 0, done.stderr
    assert "stopped by QEMU quit after the guest ignored ACPI for 0s" in done.stdout
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []
    again = ctys("-t", "QEMU", "-a", "CANCEL=l:deaf2")
    assert again.returncode == 1
    assert "not running" in again.stderr


def test_five_concurrent_creates_start_exactly_one_qemu(ctys, make_vm, ctys_env) -> None:
    make_vm("once")
    with ThreadPoolExecutor(5) as pool:
        results = list(
            pool.map(lambda _: ctys("-t", "QEMU", "-a", "CREATE=l:once", "-b", "1"), range(5))
        )
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1, 1, 1, 1], [r.stderr for r in results]
    assert all("already running" in r.stderr for r in results if r.returncode)
    assert len(live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"])) == 1


def test_killed_qemu_is_gone_from_list_and_can_start_again(ctys, make_vm, ctys_env) -> None:
    make_vm("k9")
    assert ctys("-t", "QEMU", "-a", "CREATE=l:k9", "-b", "1").returncode == 0
    [pid] = live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"])
    psutil.Process(pid).kill()
    psutil.Process(pid).wait(5) if psutil.pid_exists(pid) else None
    assert list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"]) == []
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("k9-*"))
    assert ctys("-t", "QEMU", "-a", "CREATE=l:k9", "-b", "1").returncode == 0


def test_connect_console_through_cli(ctys, make_vm) -> None:
    make_vm("pipe")
    assert (
        ctys("-t", "QEMU", "-a", f"CREATE=l:pipe,CONSOLE:CLI,WAIT:{PROMPT}", "-b", "1").returncode
        == 0
    )
    done = ctys("-t", "QEMU", "-a", "CREATE=l:pipe,CONNECT", stdin="echo via-$((40+2))\n")
    assert done.returncode == 0, done.stderr
    assert "via-42" in done.stdout


def test_cli0_console_bound_to_stdio(make_vm, ctys_env) -> None:
    make_vm("fg")
    proc = subprocess.Popen(
        [*CTYS, "-t", "QEMU", "-a", "CREATE=l:fg,CONSOLE:CLI0"],
        env=ctys_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    buf = b""
    while b"guest# " not in buf:
        chunk = proc.stdout.read1(4096)  # type: ignore[attr-defined]
        assert chunk, buf[-300:]
        buf += chunk
    proc.stdin.write(b"echo fg-$((6*7)); poweroff -f\n")
    proc.stdin.flush()
    out, _ = proc.communicate(timeout=30)
    assert b"fg-42" in buf + out
    assert proc.returncode == 0
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("fg-*"))


def _read_until(proc: subprocess.Popen[bytes], marker: bytes, timeout: float = 30) -> bytes:
    """Read ``proc``'s stdout until ``marker`` (the attacher relays the guest's output)."""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    buf = b""
    deadline = time.monotonic() + timeout
    while marker not in buf:
        assert time.monotonic() < deadline, buf[-300:]
        chunk = proc.stdout.read(4096)
        if chunk:
            buf += chunk
        else:
            assert proc.poll() is None, buf[-300:]
            time.sleep(0.05)
    return buf


def test_a_second_console_attacher_is_told_the_console_is_in_use(ctys, make_vm, ctys_env) -> None:
    make_vm("duo")
    assert (
        ctys("-t", "QEMU", "-a", f"CREATE=l:duo,CONSOLE:CLI,WAIT:{PROMPT}", "-b", "1").returncode
        == 0
    )
    connect = [*CTYS, "-t", "QEMU", "-a", "CREATE=l:duo,CONNECT"]
    first = subprocess.Popen(connect, env=ctys_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert first.stdin is not None
    try:
        first.stdin.write(b"echo first-$((1+1))\n")
        first.stdin.flush()
        _read_until(first, b"first-2")

        # A second attacher, while the first is attached: one line, non-zero, at once.
        started = time.monotonic()
        second = ctys("-t", "QEMU", "-a", "CREATE=l:duo,CONNECT", stdin="echo second\n")
        assert time.monotonic() - started < 10
        assert second.returncode == 1, (second.stdout, second.stderr)
        (line,) = second.stderr.splitlines()
        assert line.startswith("ctys: the console of duo is in use: attached by ")
        assert f"(pid {first.pid}, 'ctys " in line and "CREATE=l:duo,CONNECT'" in line
        assert line.endswith("; CONNECT,FORCE takes it over")
        assert "second" not in second.stdout

        # The first one still has the console: the guest answers it, not the second.
        first.stdin.write(b"echo again-$((2+2))\n")
        first.stdin.flush()
        _read_until(first, b"again-4")
    finally:
        first.stdin.close()
        first.wait(timeout=20)
    assert first.returncode == 0
    # Detached: the next attacher gets the console.
    third = ctys("-t", "QEMU", "-a", "CREATE=l:duo,CONNECT", stdin="echo third-$((3*3))\n")
    assert third.returncode == 0, third.stderr
    assert "third-9" in third.stdout
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:duo,FORCE").returncode == 0
