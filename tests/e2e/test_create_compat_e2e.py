"""The original's CREATE suboptions with real guests under TCG: the default console (VNC,
private) and the conf's DEFAULTCONSOLE, CONSOLE:NONE and VNC:<port>, BOOTMODE:KERNEL,
ARGSADD:S%, STACKCHECK, DBRECORD, RECONNECT (of a serial attacher and of a viewer),
CALLOPTS/XOPTS (a stand-in viewer records its argv), WAITS and PING on the tiny guest;
SSHPING with USER on the real Debian guest (sshd behind a HOSTFWD).

Boots: 12 tiny guests, 1 real guest."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from ctys.plugins.qemu.demo.realvm import free_port, ssh_argv
from ctys.plugins.qemu.images.realsystem import RealGuestImage
from support.cli import CTYS, run_ctys
from support.realguest import real_guest_folder
from support.rows import list_rows

PROMPT = "guest#"


def _rundir(ctys_env: dict[str, str], label: str) -> Path:
    [rundir] = Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob(f"{label}-*")
    return rundir


def _console_kind(ctys_env: dict[str, str], label: str) -> str:
    """The console the VM was started with, as its runtime record says."""
    return str(json.loads((_rundir(ctys_env, label) / "state.json").read_text())["console"])


def _qemu_argv(ctys, ctys_env: dict[str, str], label: str) -> list[str]:
    [row] = [r for r in list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"]) if r["LABEL"] == label]
    return psutil.Process(int(row["PID"])).cmdline()


def _listening(pid: int) -> list[int]:
    conns = psutil.Process(pid).net_connections(kind="inet")
    return [c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN]


def test_the_default_console_is_vnc_on_the_private_socket(ctys, make_vm, ctys_env) -> None:
    make_vm("dflt")
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:dflt,WAIT:{PROMPT}", "-b", "1")
    assert done.returncode == 0, done.stderr
    sock = _rundir(ctys_env, "dflt") / "vnc.sock"
    assert f"VNC unix:{sock}" in done.stdout
    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert _console_kind(ctys_env, "dflt") == "VNC" and row["VNC"] == f"unix:{sock}"
    assert _listening(int(row["PID"])) == []  # private: no TCP port
    # CONNECT without CONSOLE: the console it was started with (VNC: its address here).
    attach = ctys("-t", "QEMU", "-a", "CREATE=l:dflt,CONNECT")
    assert attach.returncode == 0 and attach.stdout.strip() == f"dflt: VNC unix:{sock}"


def test_the_confs_default_console_and_boot_mode(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("cdef")
    conf.write_text(conf.read_text() + "#@#DEFAULTCONSOLE = CLI\nDEFAULTBOOTMODE=KERNEL\n")
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:cdef,WAIT:{PROMPT}", "-b", "1")
    assert done.returncode == 0, done.stderr
    assert _console_kind(ctys_env, "cdef") == "CLI"
    # CONNECT attaches the serial console of a CLI VM.
    attached = ctys("-t", "QEMU", "-a", "CREATE=l:cdef,CONNECT", stdin="echo via-$((40+2))\n")
    assert attached.returncode == 0 and "via-42" in attached.stdout, attached.stderr


def test_console_none_is_headless_and_waits_s_and_c(ctys, make_vm, ctys_env) -> None:
    make_vm("hdls")
    started = time.monotonic()
    done = ctys("-t", "QEMU", "-a", "CREATE=l:hdls,CONSOLE:NONE,WAITS:2,WAITC:2", "-b", "1")
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert took >= 4, took  # without them CREATE returns once qemu's monitor answers
    log = _rundir(ctys_env, "hdls") / "console.log"
    deadline = time.monotonic() + 60
    while PROMPT.encode() not in log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.2)
    argv = _qemu_argv(ctys, ctys_env, "hdls")
    assert "-vnc" not in argv and argv[argv.index("-display") + 1] == "none"
    assert "VNC" not in done.stdout
    assert not (_rundir(ctys_env, "hdls") / "vnc.sock").exists()
    # The serial console stays: the guest answers on it.
    attached = ctys("-t", "QEMU", "-a", "CREATE=l:hdls,CONNECT", stdin="echo hl-$((2*21))\n")
    assert attached.returncode == 0 and "hl-42" in attached.stdout, attached.stderr


def test_console_vnc_port_is_that_port_with_a_password(ctys, make_vm, ctys_env) -> None:
    make_vm("vport")
    port = free_port(5975)
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:vport,CONSOLE:VNC:{port}", "-b", "1")
    assert done.returncode == 0, done.stderr
    pwfile = _rundir(ctys_env, "vport") / "vnc.pass"
    assert f"password in {pwfile}" in done.stdout
    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["VNC"] == f"127.0.0.1:{port}"
    assert _listening(int(row["PID"])) == [port]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as rfb:
        assert rfb.recv(12).startswith(b"RFB ")
        rfb.sendall(b"RFB 003.008\n")
        count = rfb.recv(1)[0]
        assert list(rfb.recv(count)) == [2]  # VNC authentication only, never "None"
    busy = ctys("-t", "QEMU", "-a", "CREATE=l:vport,CONSOLE:VNC:80")
    assert busy.returncode == 2 and "5900 to 65535" in busy.stderr


def test_bootmode_kernel_and_argsadd_for_the_server(ctys, make_vm, ctys_env) -> None:
    make_vm("kern")
    subs = f"BOOTMODE:KERNEL,ARGSADD:S%-snapshot,CONSOLE:CLI,WAIT:{PROMPT}"
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:kern,{subs}", "-b", "1")
    assert done.returncode == 0, done.stderr
    argv = _qemu_argv(ctys, ctys_env, "kern")
    assert "-snapshot" in argv and "S" not in argv
    assert argv[-2] == "-kernel" and "-boot" not in argv
    client = ctys("-t", "QEMU", "-a", "CREATE=l:other,ARGSADD:C%-fullscreen")
    assert client.returncode == 2 and "only S" in client.stderr


def test_bootmode_kernel_without_a_kernel_boots_nothing(ctys, make_vm, ctys_env, short_tmp) -> None:
    conf = make_vm("nokern")
    disk = short_tmp / "d.img"
    disk.write_bytes(b"\0" * 1024 * 1024)
    text = re.sub(r"(?m)^KERNEL=.*\n", "", conf.read_text())
    conf.write_text(text + f"HDDBOOTIMAGE={disk}\n")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:nokern,BOOTMODE:KERNEL", "-b", "1")
    assert done.returncode == 1 and "KERNELIMAGE" in done.stderr
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("nokern-*"))


def test_stackcheck_refuses_a_vm_this_host_cannot_run(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("stk")
    conf.write_text(conf.read_text() + '#@#STACKREQ = "XEN"\n')
    done = ctys("-t", "QEMU", "-a", "CREATE=l:stk", "-b", "1")
    assert done.returncode == 1, done.stderr
    assert "requires XEN" in done.stderr and "QEMU" in done.stderr
    assert list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"]) == []
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:stk,STACKCHECK:NOSTACKCAP,WAIT:{PROMPT}", "-b", "1")
    assert done.returncode == 0, done.stderr


def test_dbrecord_boots_the_inventory_record(ctys, make_vm, ctys_env) -> None:
    make_vm("rec1")
    make_vm("rec2")
    assert ctys("-t", "QEMU", "-a", "ENUMERATE").returncode == 0
    vhost = Path(CTYS[0]).with_name("ctys-vhost")
    query = subprocess.run([str(vhost), "-t", "-o", "INDEX,LABEL", "rec2"], env=ctys_env,
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert query.returncode == 0, query.stderr
    # Fields print in record order: LABEL;INDEX.
    found = [line.split(";")[1] for line in query.stdout.splitlines() if line.startswith("rec2;")]
    assert len(found) == 1, query.stdout
    [index] = found
    done = ctys("-t", "QEMU", "-a", f"CREATE=DBRECORD:{index},CONSOLE:NONE", "-b", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rec2: started")


def test_ping_that_gets_no_answer_fails_and_the_vm_keeps_running(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("pung")
    conf.write_text(conf.read_text() + "#@#IP = 192.0.2.1\n")  # TEST-NET-1: nobody answers
    started = time.monotonic()
    done = ctys("-t", "QEMU", "-a", "CREATE=l:pung,CONSOLE:NONE,PING:2%1", "-b", "1")
    took = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert "did not answer ping in 2 tries" in done.stderr and "keeps running" in done.stderr
    assert took >= 1  # one pause of 1 s between the two tries (each waits up to 2 s)
    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["LABEL"] == "pung"
    make_vm("noip")  # no #@#IP, a user-mode NIC: nothing ping could reach; nothing boots
    unreachable = ctys("-t", "QEMU", "-a", "CREATE=l:noip,PING:ON", "-b", "1")
    assert unreachable.returncode == 1 and "no address to ping" in unreachable.stderr
    assert [r["LABEL"] for r in list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])] == ["pung"]


def test_reconnect_closes_the_attached_console_then_connects(ctys, make_vm, ctys_env) -> None:
    make_vm("recon")
    booted = ctys("-t", "QEMU", "-a", f"CREATE=l:recon,CONSOLE:CLI,WAIT:{PROMPT}", "-b", "1")
    assert booted.returncode == 0, booted.stderr
    first = subprocess.Popen(
        [*CTYS, "-t", "QEMU", "-a", "CREATE=l:recon,CONNECT"],
        env=ctys_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        lock = _rundir(ctys_env, "recon") / "console.lock"
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        busy = ctys("-t", "QEMU", "-a", "CREATE=l:recon,CONNECT", stdin="echo no\n")
        assert busy.returncode == 1 and "in use" in busy.stderr
        again = ctys("-t", "QEMU", "-a", "CREATE=l:recon,RECONNECT", stdin="echo re-$((6*7))\n")
        assert again.returncode == 0, again.stderr
        assert f"recon: closed its client serial console (pid {first.pid})" in again.stdout
        assert "re-42" in again.stdout
        assert first.wait(10) == 143  # the first attacher ended by SIGTERM (128 + 15)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(10)
    gone = ctys("-t", "QEMU", "-a", "CREATE=l:nothere,RECONNECT")
    assert gone.returncode != 0


# --- SSHPING with the real Debian guest ------------------------------------------------


@pytest.mark.timeout(900)
def test_sshping_returns_once_the_guest_lets_user_in(real_image: RealGuestImage) -> None:
    with real_guest_folder(real_image, "sshp", guest_agent=False) as folder:
        env, port = folder.env, folder.port
        config = folder.root / "ssh_config"
        config.write_text(
            "Host 127.0.0.1\n"
            f"  IdentityFile {real_image.key}\n  IdentitiesOnly yes\n"
            "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
        )
        env["CTYS_SSH_CONFIG"] = str(config)
        started = time.monotonic()
        done = run_ctys("-t", "QEMU", "-a",
                        "CREATE=l:sshp,BOOTMODE:HDD,CONSOLE:NONE,SSHPING:150%2,USER:root",
                        "-b", "1", env=env, timeout=600)  # fmt: skip
        took = time.monotonic() - started
        print(f"sshp: CREATE with SSHPING returned after {took:.1f}s")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"sshp: answers ssh root@127.0.0.1:{port}" in done.stderr
        # It returned because sshd lets root in: the first try now succeeds.
        now = subprocess.run(ssh_argv(real_image, port, "echo", "in-$((6*7))"),
                             capture_output=True, text=True, timeout=60, check=False,
                             stdin=subprocess.DEVNULL)  # fmt: skip
        assert now.returncode == 0 and "in-42" in now.stdout, now.stderr


FAKE_VIEWER = """#!/bin/sh
# Stands in for TigerVNC's viewer: notes its argv, then stays open like a viewer.
printf '%s\\n' "$$ $*" >> "{log}"
sleep 120 &
trap 'kill $!; exit 0' TERM
wait
"""


def test_callopts_xopts_reach_the_viewer_and_reconnect_replaces_it(
    make_vm, ctys_env, short_tmp
) -> None:
    bin_dir = short_tmp / "bin"
    bin_dir.mkdir()
    log = short_tmp / "viewer.log"
    viewer = bin_dir / "vncviewer"
    viewer.write_text(FAKE_VIEWER.format(log=log))
    viewer.chmod(0o755)
    env = {**ctys_env, "DISPLAY": ":97", "PATH": f"{bin_dir}:{ctys_env['PATH']}"}
    make_vm("view")
    subs = "CONSOLE:VNC,CALLOPTS:-Shared%-ViewOnly,XOPTS:-bg%black"
    done = run_ctys("-t", "QEMU", "-a", f"CREATE=l:view,{subs},WAIT:{PROMPT}", "-b", "1", env=env)
    assert done.returncode == 0, done.stderr
    sock = _rundir(ctys_env, "view") / "vnc.sock"
    deadline = time.monotonic() + 10
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    [first] = log.read_text().splitlines()
    pid, *argv = first.split(" ")
    assert argv == ["-Shared", "-ViewOnly", "-bg", "black", str(sock)]
    # RECONNECT closes that viewer (it names the VM's socket) and opens a new one.
    again = run_ctys("-t", "QEMU", "-a", "CREATE=l:view,RECONNECT", env=env)
    assert again.returncode == 0, again.stderr
    assert f"view: closed its client vncviewer (pid {pid})" in again.stdout
    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == "zombie"
    deadline = time.monotonic() + 10
    while len(log.read_text().splitlines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    second_pid, *second = log.read_text().splitlines()[1].split(" ")
    assert second == [str(sock)]  # this CONNECT gave no CALLOPTS
    os.kill(int(second_pid), 15)
