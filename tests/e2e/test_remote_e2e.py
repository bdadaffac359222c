"""ctys on targets over real OpenSSH: every host is a real sshd on loopback with its own host
key, authorized key, VM folder and runtime dir (``sshhosts.py``); guests are real TCG guests.

The local ctys reaches them through ``CTYS_SSH_CONFIG`` (the test ssh config) and runs the
venv's ctys there (``CTYS_REMOTE_CTYS``); each host's records carry its ``CTYS_HOSTNAME``.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from sshhosts import SshHost

from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images.build import GuestImage
from support.cli import CTYS
from support.procs import live_qemus
from support.ptyio import pty_read_until
from support.rows import list_rows

pytestmark = pytest.mark.e2e

PROMPT = "guest#"
FAULT_BOUND = 30.0  # seconds: LIST over good and bad hosts must finish within this


def _qemus(host: SshHost) -> list[psutil.Process]:
    """The live qemu processes that use ``host``'s runtime dir."""
    return live_qemus(str(host.runtime))


def _wait_no_qemus(host: SshHost, timeout: float = 10) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := _qemus(host)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _inventory(ctys_env: dict[str, str]) -> list[dict[str, object]]:
    """The local inventory as JSON rows (``ctys-vhost -j``)."""
    vhost = str(Path(sys.executable).with_name("ctys-vhost"))
    done = subprocess.run(
        [vhost, "-j", "-o", "HOST,LABEL,UUID,PNAME"],
        env=ctys_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert isinstance(rows, list)
    return rows


def _json_rows(done: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    rows = json.loads(done.stdout)
    assert isinstance(rows, list), done.stdout
    return rows


def _vm(host: SshHost, guest: GuestImage, label: str, **kw: object) -> Path:
    return write_demo_conf(host.vms / label, guest, label, **kw)  # type: ignore[arg-type]


# --- ENUMERATE -----------------------------------------------------------------------------


def test_remote_enumerate_of_two_hosts_fills_the_local_inventory(
    rctys, ssh_hosts, guest, ctys_env
) -> None:
    host_a, host_b = ssh_hosts(2)
    _vm(host_a, guest, "web")
    _vm(host_b, guest, "db")
    _vm(host_b, guest, "cache")
    # A VM of the local machine must not turn up: only the targets are enumerated.
    write_demo_conf(Path(ctys_env["CTYS_VMPATH"]) / "mine", guest, "mine")

    done = rctys("-t", "QEMU", "-a", "ENUMERATE=TERSE", "-o", "HOST,LABEL", "hostA", "hostB")
    assert done.returncode == 0, done.stderr
    printed = {line for line in done.stdout.splitlines() if ";" in line}
    assert {"hostA;web", "hostB;db", "hostB;cache"} <= printed, done.stdout

    rows = {(r["HOST"], r["LABEL"]) for r in _inventory(ctys_env)}
    assert rows == {("hostA", "web"), ("hostB", "db"), ("hostB", "cache")}
    # The records keep the remote conf paths, as the hosts see them.
    pnames = {r["LABEL"]: r["PNAME"] for r in _inventory(ctys_env)}
    assert pnames["web"] == str(host_a.vms / "web" / "web.conf")


def test_multipath_one_shared_folder_two_hosts_two_rows_one_vm(
    rctys, ssh_hosts, guest, ctys_env, short_tmp
) -> None:
    shared = short_tmp / "nfs"
    conf = write_demo_conf(shared / "both", guest, "both")
    ssh_hosts(2, shared=(shared,))

    done = rctys("-t", "QEMU", "-a", "ENUMERATE=TERSE", "hostA", "hostB")
    assert done.returncode == 0, done.stderr

    rows = [r for r in _inventory(ctys_env) if r["LABEL"] == "both"]
    assert sorted(r["HOST"] for r in rows) == ["hostA", "hostB"], rows
    assert len({r["UUID"] for r in rows}) == 1  # one VM ...
    assert {r["PNAME"] for r in rows} == {str(conf)}  # ... at one path, two hosts can run it


def test_enumerate_with_a_dead_host_stores_the_good_hosts_rows(
    rctys, ssh_hosts, guest, ctys_env
) -> None:
    [host_a] = ssh_hosts(1)
    ssh_hosts.refusing()
    _vm(host_a, guest, "web")
    done = rctys("-t", "QEMU", "-a", "ENUMERATE=TERSE", "hostA", "refusing")
    assert done.returncode != 0
    [error] = [line for line in done.stderr.splitlines() if line.strip()]
    assert error.startswith("ctys: refusing: ") and "refused" in error, done.stderr
    assert {(r["HOST"], r["LABEL"]) for r in _inventory(ctys_env)} == {("hostA", "web")}


# --- CREATE / LIST / CANCEL ----------------------------------------------------------------


def test_remote_create_list_cancel_of_a_real_guest(rctys, ssh_hosts, guest) -> None:
    host_a, host_b = ssh_hosts(2)
    _vm(host_a, guest, "vm1")

    done = rctys("-t", "QEMU", "-a", f"CREATE=l:vm1,WAIT:{PROMPT}", "-b", "1", "hostA", timeout=150)
    assert done.returncode == 0, done.stderr
    assert "vm1" in done.stdout and "started" in done.stdout, done.stdout
    # It runs on hostA: in hostA's runtime dir, nothing in hostB's.
    assert len(_qemus(host_a)) == 1
    assert _qemus(host_b) == []

    rows = list_rows(rctys, host_a.runtime, "hostA", "hostB")
    if not ssh_hosts.isolated:
        # One shared process table: hostB sees hostA's qemu, as an unmanaged VM.
        rows = [r for r in rows if r["MANAGED"] is True]
    assert len(rows) == 1, rows
    assert rows[0]["HOST"] == "hostA" and rows[0]["LABEL"] == "vm1"
    assert rows[0]["MANAGED"] is True
    assert rows[0]["STATE"] == "running"
    assert str(rows[0]["ACCEL"]).upper() == "TCG"

    cancel = rctys("-t", "QEMU", "-a", "CANCEL=l:vm1,TIMEOUT:20", "hostA", timeout=90)
    assert cancel.returncode == 0, cancel.stderr
    assert "vm1" in cancel.stdout
    assert _wait_no_qemus(host_a) == []

    assert list_rows(rctys, host_a.runtime, "hostA", "hostB") == []


def test_connect_to_a_remote_vm_from_a_terminal_attaches_without_z(
    ssh_hosts, guest, ctys_env
) -> None:
    [host_a] = ssh_hosts(1)
    _vm(host_a, guest, "vm1")
    env = {**ctys_env, **ssh_hosts.remote_env}
    argv = [*CTYS, "-t", "QEMU"]
    booted = subprocess.run(
        [*argv, "-a", f"CREATE=l:vm1,CONSOLE:CLI,WAIT:{PROMPT}", "-b", "1", "hostA"],
        env=env, capture_output=True, text=True, timeout=150, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert booted.returncode == 0, booted.stderr
    # The user's terminal: a pty as stdin/stdout, no -z given.
    main, tty = pty.openpty()
    proc = subprocess.Popen(
        [*argv, "-a", "CREATE=l:vm1,CONNECT", "hostA"],
        env=env, stdin=tty, stdout=tty, stderr=tty, start_new_session=True,
    )  # fmt: skip
    os.close(tty)
    try:
        pty_read_until(main, b"[ctys] attached to vm1")
        os.write(main, b"echo remote-$((6*7))\r")
        pty_read_until(main, b"remote-42")
        os.write(main, b"\x1d")  # Ctrl-] detaches
        pty_read_until(main, b"[ctys] detached from vm1")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
    assert len(_qemus(host_a)) == 1  # detaching leaves the VM running


def test_target_local_options_override_the_global_action(rctys, ssh_hosts, guest) -> None:
    host_a, host_b = ssh_hosts(2)
    _vm(host_a, guest, "vm1")
    _vm(host_b, guest, "vm2")  # hostB has no vm1: only its own -a can start something there

    done = rctys(
        "-t", "QEMU", "-a", "CREATE=l:vm1", "-b", "1", "hostA", "hostB(-a CREATE=l:vm2)",
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [on_a] = _qemus(host_a)
    [on_b] = _qemus(host_b)
    assert "vm1" in " ".join(on_a.cmdline())
    assert "vm2" in " ".join(on_b.cmdline())

    stop = rctys(
        "-t", "QEMU", "-a", "CANCEL=l:vm1,FORCE", "hostA", "hostB(-a CANCEL=l:vm2,FORCE)",
        timeout=90,
    )  # fmt: skip
    assert stop.returncode == 0, stop.stderr
    assert _wait_no_qemus(host_a) == []
    assert _wait_no_qemus(host_b) == []


def _multipath_both(rctys, ssh_hosts, guest, short_tmp) -> dict[str, SshHost]:
    """hostA and hostB sharing one folder with the VM ``both``, enumerated."""
    shared = short_tmp / "nfs"
    write_demo_conf(shared / "both", guest, "both")
    hosts = {h.name: h for h in ssh_hosts(2, shared=(shared,))}
    assert rctys("-t", "QEMU", "-a", "ENUMERATE=TERSE", "hostA", "hostB").returncode == 0
    return hosts


def test_create_of_a_multipath_vm_says_which_host_runs_it(
    rctys, ssh_hosts, guest, short_tmp
) -> None:
    hosts = _multipath_both(rctys, ssh_hosts, guest, short_tmp)

    # No target: the least loaded host that can run it, named on stderr.
    done = rctys("-t", "QEMU", "-a", "CREATE=l:both", "-b", "1", timeout=90)
    assert done.returncode == 0, done.stderr
    [said] = [line for line in done.stderr.splitlines() if "running on" in line]
    chosen = said.split("running on ", 1)[1].split()[0]
    assert chosen in hosts, said
    assert len(_qemus(hosts[chosen])) == 1
    other = next(name for name in hosts if name != chosen)
    assert _qemus(hosts[other]) == []
    stop = rctys("-t", "QEMU", "-a", "CANCEL=l:both,FORCE", chosen)
    assert stop.returncode == 0, stop.stderr
    assert _wait_no_qemus(hosts[chosen]) == []

    # A given target wins: the other host runs it now.
    done = rctys("-t", "QEMU", "-a", "CREATE=l:both", "-b", "1", other, timeout=90)
    assert done.returncode == 0, done.stderr
    assert len(_qemus(hosts[other])) == 1
    assert _qemus(hosts[chosen]) == []


def test_second_create_of_a_multipath_vm_is_refused_naming_the_host(
    rctys, ssh_hosts, guest, short_tmp
) -> None:
    hosts = _multipath_both(rctys, ssh_hosts, guest, short_tmp)
    first = rctys("-t", "QEMU", "-a", "CREATE=l:both", "-b", "1", timeout=90)
    assert first.returncode == 0, first.stderr
    [runner] = [name for name, host in hosts.items() if _qemus(host)]

    # Whichever host is less loaded now, the VM is not started again anywhere.
    again = rctys("-t", "QEMU", "-a", "CREATE=l:both", "-b", "1", timeout=90)
    assert again.returncode != 0
    # (the pid as that host sees it: the test hosts have their own PID namespaces)
    said = again.stderr.splitlines()[-1]
    assert re.fullmatch(rf"ctys: VM both already runs on {runner} \(pid \d+\); use CONNECT", said)
    time.sleep(0.5)
    assert sum(len(_qemus(h)) for h in hosts.values()) == 1
    stop = rctys("-t", "QEMU", "-a", "CANCEL=l:both,FORCE", runner)
    assert stop.returncode == 0, stop.stderr


# --- faults --------------------------------------------------------------------------------


def test_bad_hosts_each_get_one_error_and_do_not_stop_the_good_one(rctys, ssh_hosts, guest) -> None:
    [host_a] = ssh_hosts(1)
    ssh_hosts.refusing()
    ssh_hosts.hanging()
    ssh_hosts.noctys()
    _vm(host_a, guest, "up")
    started = rctys("-t", "QEMU", "-a", "CREATE=l:up", "-b", "1", "hostA", timeout=90)
    assert started.returncode == 0, started.stderr

    t0 = time.monotonic()
    done = rctys(
        "-t", "QEMU", "-a", "LIST=TERSE", "-o", "LABEL,STATE,QMP",
        "hostA", "refusing", "hanging", "noctys",
        timeout=FAULT_BOUND + 30,
    )  # fmt: skip
    took = time.monotonic() - t0
    assert took < FAULT_BOUND, f"took {took:.1f}s"
    assert done.returncode != 0
    # hostA's VM is reported (its row, by its monitor in hostA's runtime dir: other qemus,
    # with the same label or not, may run on this machine) ...
    ours = f"hostA;up;running;{host_a.runtime}/vms/up-"
    assert [line for line in done.stdout.splitlines() if line.startswith(ours)], (
        done.stdout,
        done.stderr,
    )
    # ... and each bad host has exactly one clear error line naming it.
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    for bad in ("refusing", "hanging", "noctys"):
        mine = [line for line in errors if bad in line]
        assert len(mine) == 1, (bad, done.stderr)
    assert "refused" in next(line for line in errors if "refusing" in line).lower()
    assert "not found" in next(line for line in errors if "noctys" in line)
    assert not any("hostA" in line for line in errors), done.stderr
    assert "Traceback" not in done.stderr


def test_only_refusing_host_fails_fast(rctys, ssh_hosts) -> None:
    ssh_hosts.refusing()
    t0 = time.monotonic()
    done = rctys("-t", "QEMU", "-a", "LIST", "refusing", timeout=30)
    assert time.monotonic() - t0 < 10
    assert done.returncode != 0
    [line] = [line for line in done.stderr.splitlines() if line.strip()]
    assert "refusing" in line, done.stderr


def test_a_host_that_logs_in_and_never_answers_is_cut_off_by_the_target_timeout(
    rctys, ssh_hosts
) -> None:
    ssh_hosts(1)
    ssh_hosts.stuck()
    t0 = time.monotonic()
    done = rctys(
        "-t", "QEMU", "-a", "LIST=TERSE", "hostA", "stuck",
        extra_env={"CTYS_TARGET_TIMEOUT": "4"}, timeout=60,
    )  # fmt: skip
    took = time.monotonic() - t0
    assert 4 <= took < 15, f"took {took:.1f}s"
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("ctys: stuck: "), done.stderr
    assert "4s" in errors[0], errors[0]


# --- quoting -------------------------------------------------------------------------------


def test_shell_metacharacters_in_a_path_reach_the_remote_ctys_verbatim(
    rctys, ssh_hosts, guest
) -> None:
    [host_a] = ssh_hosts(1)
    tag = uuid.uuid4().hex[:8]
    markers = [Path(f"/tmp/ctys-pwned-{tag}-{i}") for i in range(3)]
    odd = host_a.vms / (
        f"my vms $(touch {markers[0]}) `touch {markers[1]}`; touch {markers[2]} & 'q\" |x"
    )
    conf = write_demo_conf(odd / "odd", guest, "odd")
    assert conf.is_file()

    done = rctys("-t", "QEMU", "-a", f"ENUMERATE=BASEPATH:{odd},JSON", "hostA")
    try:
        assert done.returncode == 0, done.stderr
        rows = [(r["HOST"], r["LABEL"], r["PNAME"]) for r in _json_rows(done)]
        assert rows == [("hostA", "odd", str(conf))], done.stdout
        assert [m for m in markers if m.exists()] == []
    finally:
        for marker in markers:
            marker.unlink(missing_ok=True)
