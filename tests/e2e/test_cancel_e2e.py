"""CANCEL per the original's syntax with the real tiny guest under TCG: SUSPEND|S4 saves
the whole VM and CREATE=...,RESUME lets it run on where it was (a counter running in the
guest's shell goes on counting, read through the serial console), into a migration file
(no disk) or a qcow2 snapshot; CLIENT|BOTH close the console attachers; the -X block;
INIT without an agent; SELF refused without its confirmation.

Boots: 7 guests (one per test)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from ctys.consoles.serial import SerialConsole
from support.cli import CTYS
from support.disks import with_disk
from support.procs import live_qemu_pids
from support.rows import list_rows

pytestmark = pytest.mark.e2e

PROMPT = "guest#"
_TICK = re.compile(rb"tick-(\d+)")
# A counter in the guest's shell: one line a second on the serial console.
_COUNTER = "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 1; done &"


def _console(ctys_env: dict[str, str], label: str) -> SerialConsole:
    found = list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob(f"{label}-*/console.sock"))
    assert len(found) == 1, found
    return SerialConsole(found[0], timeout=30)


def _ticks(data: bytes) -> list[int]:
    return [int(n) for n in _TICK.findall(data)]


def _read_ticks(console: SerialConsole, at_least: int, timeout: float = 60) -> list[int]:
    """Read the console until a tick >= ``at_least`` went by; every tick seen."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not any(n >= at_least for n in _ticks(buf)):
        assert time.monotonic() < deadline, buf[-400:]
        buf += console.read_until(b"\n", timeout=max(1.0, deadline - time.monotonic()))
    return _ticks(buf)


def _boot_with_counter(ctys, ctys_env, label: str) -> int:
    """Boot ``label``, start the counter, return the last tick seen (>= 3)."""
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:{label},WAIT:{PROMPT}", "-b", "1")
    assert done.returncode == 0, done.stderr
    with _console(ctys_env, label) as console:
        console.send_line(_COUNTER)
        return max(_read_ticks(console, 3))


def _suspend_and_resume(ctys, ctys_env, conf: Path, label: str, where: str) -> None:
    before = _boot_with_counter(ctys, ctys_env, label)
    saved = ctys("-t", "QEMU", "-a", f"CANCEL=l:{label},S4", timeout=120)
    assert saved.returncode == 0, saved.stderr
    assert f"{label}: suspended: state saved ({where}" in saved.stdout, saved.stdout
    assert "CREATE=...,RESUME restores it" in saved.stdout
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []
    note = conf.with_name(f"{conf.stem}.S4.json")
    assert note.stat().st_mode & 0o077 == 0

    # Resumed: the same shell's counter goes on from where it was, no fresh boot.
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:{label},RESUME", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{label}: resumed from its saved state (pid "), done.stdout
    with _console(ctys_env, label) as console:
        seen = _read_ticks(console, before + 3)
    assert min(seen) > before - 2, (before, seen)  # never restarted at tick-1
    assert not note.exists()
    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["LABEL"] == label and row["STATE"] == "running"

    again = ctys("-t", "QEMU", "-a", f"CREATE=l:{label},RESUME")
    assert again.returncode == 0 and "not paused (running)" in again.stdout


def test_suspend_to_a_file_and_resume_continues_the_guest(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("ctr")  # no disk: the state goes to a migration file beside the conf
    state = conf.with_name("ctr.S4.vmstate")
    _suspend_and_resume(ctys, ctys_env, conf, "ctr", str(state))
    assert not state.exists()


def test_suspend_into_a_qcow2_snapshot_and_resume(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("snap")
    disk = with_disk(conf, "qcow2")
    _suspend_and_resume(ctys, ctys_env, conf, "snap", "snapshot S4 in its qcow2 disk")
    ctys("-t", "QEMU", "-a", "CANCEL=l:snap,S5:0")
    listing = subprocess.run(
        ["qemu-img", "snapshot", "-l", str(disk)], capture_output=True, text=True, check=True
    )
    assert "S4" not in listing.stdout  # deleted once the VM ran from it again


def test_resume_refuses_a_file_state_over_a_changed_disk(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("chg")
    disk = with_disk(conf, "raw")
    assert ctys("-t", "QEMU", "-a", f"CREATE=l:chg,WAIT:{PROMPT}", "-b", "1").returncode == 0
    saved = ctys("-t", "QEMU", "-a", "CANCEL=l:chg,SUSPEND", timeout=120)
    assert saved.returncode == 0, saved.stderr
    assert "chg.S4.vmstate" in saved.stdout  # a raw disk holds no snapshot
    with disk.open("r+b") as fh:
        fh.write(b"changed")
    refused = ctys("-t", "QEMU", "-a", "CREATE=l:chg,RESUME")
    assert refused.returncode != 0
    assert "changed since CANCEL SUSPEND" in refused.stderr, refused.stderr
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []


def _attacher(ctys_env: dict[str, str], label: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*CTYS, "-t", "QEMU", "-a", f"CREATE=l:{label},CONSOLE:CLI,CONNECT"],
        env=ctys_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"echo attached-$((20+1))\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    buf = b""
    assert proc.stdout is not None
    while b"attached-21" not in buf:
        assert time.monotonic() < deadline and proc.poll() is None, buf[-300:]
        buf += proc.stdout.read1(4096)  # type: ignore[attr-defined]
    return proc


def test_client_closes_the_attachers_only_and_both_the_vm_too(ctys, make_vm, ctys_env) -> None:
    make_vm("cli")
    assert ctys("-t", "QEMU", "-a", f"CREATE=l:cli,WAIT:{PROMPT}", "-b", "1").returncode == 0
    first = _attacher(ctys_env, "cli")
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:cli,CLIENT")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"cli: closed .+ \(pid {first.pid}\)\n", done.stdout), done.stdout
    first.wait(timeout=10)
    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["LABEL"] == "cli" and row["STATE"] == "running"  # the VM runs on

    nothing = ctys("-t", "QEMU", "-a", "CANCEL=l:cli,CLIENT")
    assert nothing.stdout == "cli: no clients to close\n"

    second = _attacher(ctys_env, "cli")
    # MACHINE: the block form (as -X, which the options part parses).
    both = ctys("-t", "QEMU", "-a", "CANCEL=l:cli,BOTH,POWEROFF:20,MACHINE", timeout=90)
    assert both.returncode == 0, both.stderr
    second.wait(timeout=10)
    lines = both.stdout.splitlines()
    assert lines[0] == (
        f'CANCEL-CLIENT Session:"cli":PID={second.pid}   ID    =cli   PID   ={second.pid}'
    )
    assert lines[1:4] == ["", "-" * 28, "POWEROFF-SERVER Session:"]
    assert lines[4].startswith("   ID    =") and lines[4].endswith("cli.conf")
    assert lines[5] == "   LABEL =cli"
    assert re.fullmatch(r"   PID   =\d+", lines[6])
    assert lines[7].startswith("   SPORT =") and lines[7].endswith("qmp.sock")
    assert lines[8:11] == ["   DELAY =20", "   FLAG  =", "-" * 28]
    assert lines[11].startswith("cli: powered off by the guest (ACPI)")
    assert lines[12:14] == ["", "-" * 28]
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []


def test_force_combines_with_a_mode_and_init_without_agent_is_one_error(
    ctys, make_vm, ctys_env
) -> None:
    make_vm("frc", noacpi=True)
    assert ctys("-t", "QEMU", "-a", f"CREATE=l:frc,WAIT:{PROMPT}", "-b", "1").returncode == 0
    init = ctys("-t", "QEMU", "-a", "CANCEL=l:frc,INIT:3")
    assert init.returncode == 1
    assert init.stderr.strip() == (
        "frc: failed: INIT:3 runs inside the guest, which cannot be reached: no guest agent"
        " socket; no guest address for ssh (#@#IP or #@#TCP)"
    )
    paused = ctys("-t", "QEMU", "-a", "CANCEL=l:frc,FORCE,S3")
    assert paused.returncode == 0 and paused.stdout.startswith("frc: paused")
    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["STATE"] == "paused"
    # FORCE,POWEROFF:<s>: the guest (deaf to ACPI, and paused) is killed without waiting.
    started = time.monotonic()
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:frc,FORCE,POWEROFF:2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("frc: stopped by QEMU quit; ACPI skipped: the VM is paused")
    assert time.monotonic() - started < 15
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []


def test_self_is_refused_without_its_confirmation_and_nothing_is_done(
    ctys, make_vm, ctys_env
) -> None:
    make_vm("slf")
    assert ctys("-t", "QEMU", "-a", f"CREATE=l:slf,WAIT:{PROMPT}", "-b", "1").returncode == 0
    bare = ctys("-t", "QEMU", "-a", "CANCEL=ALL,SELF")  # no terminal to ask on
    assert bare.returncode == 2
    assert "SELF powers off this host (" in bare.stderr and "confirm with SELF:" in bare.stderr
    other = ctys("-t", "QEMU", "-a", "CANCEL=ALL,SELF:not-this-host.invalid")
    assert other.returncode == 2
    assert "SELF:not-this-host.invalid names another host" in other.stderr
    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["LABEL"] == "slf" and row["STATE"] == "running"  # nothing was cancelled


def test_self_on_a_remote_target_is_refused_without_its_confirmation(
    rctys, ssh_hosts, ctys_env
) -> None:
    """Over ssh there is no terminal to ask on; a test host's ``CTYS_HOSTNAME`` is not
    the machine's name, so ``SELF:<that name>`` does not confirm a power-off of the real
    machine under it. (Nothing is powered off by this test.)"""
    [host] = ssh_hosts(1)
    bare = rctys("-t", "QEMU", "-a", "CANCEL=ALL,SELF", host.name)
    assert bare.returncode != 0
    assert "SELF powers off this host (" in bare.stderr, bare.stderr
    named = rctys("-t", "QEMU", "-a", f"CANCEL=ALL,SELF:{host.name}", host.name)
    assert named.returncode != 0
    assert f"SELF:{host.name} names another host: this is " in named.stderr, named.stderr


def test_a_state_file_that_cannot_be_written_keeps_the_vm(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("ro")
    assert ctys("-t", "QEMU", "-a", f"CREATE=l:ro,WAIT:{PROMPT}", "-b", "1").returncode == 0
    conf.with_name("ro.S4.vmstate").mkdir()  # in the way, whoever runs the test (root too)
    failed = ctys("-t", "QEMU", "-a", "CANCEL=l:ro,SUSPEND", timeout=120)
    assert failed.returncode == 1
    assert failed.stderr.startswith("ro: failed: VM ro: "), failed.stderr
    assert "Is a directory; it stays paused (RESUME continues it)" in failed.stderr
    assert not conf.with_name("ro.S4.json").exists()
    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["STATE"] == "paused"  # nothing lost
    done = ctys("-t", "QEMU", "-a", "CREATE=l:ro,RESUME")
    assert done.returncode == 0 and done.stdout == "ro: resumed\n", (done.stdout, done.stderr)
