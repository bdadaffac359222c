"""The original's generic options acting on real hosts and guests (issue 13, point 5):
``-L CF`` (a VNC client here, the VM on a real sshd host, an ssh tunnel ctys opens and
closes), ``-b ...,seq|par`` (targets one after another or at once), ``-n`` over ssh
(nothing runs), ``-A`` (an ambiguous label acts on every VM it names), ``-c ON,ONLY``
(the inventory alone)."""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from PIL import Image
from sshhosts import SshHost

from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images.build import GuestImage
from support.cli import CTYS
from support.ptyio import pty_read_until
from support.rows import list_rows

pytestmark = pytest.mark.e2e

PROMPT = "guest#"

# The VNC client the test runs in place of a viewer: it records where it was pointed and
# what the socket looked like, and captures the guest's screen through it (vncdotool).
_CLIENT = textwrap.dedent(
    """
    import json, os, stat, subprocess, sys, time
    report, shot, sock = sys.argv[1], sys.argv[2], sys.argv[3]
    mode = stat.S_IMODE(os.stat(os.path.dirname(sock)).st_mode)
    vncdo = os.path.join(os.path.dirname(sys.executable), "vncdo")
    deadline = time.monotonic() + 30
    while True:
        done = subprocess.run([vncdo, "-s", sock, "capture", shot], capture_output=True)
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    with open(report, "w") as f:
        json.dump({"sock": sock, "dirmode": mode, "issock": stat.S_ISSOCK(os.stat(sock).st_mode),
                   "vncdo": done.returncode}, f)
    sys.exit(done.returncode)
    """
)


def _vm(host: SshHost, guest: GuestImage, label: str) -> Path:
    return write_demo_conf(host.vms / label, guest, label)


def _qemus(host: SshHost) -> list[psutil.Process]:
    assert host.runtime is not None
    out = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "qemu-system" in (proc.info["name"] or "") and str(host.runtime) in cmdline:
            out.append(proc)
    return out


def _tunnels(marker: str) -> list[psutil.Process]:
    """ssh processes holding a forward whose command line names ``marker``."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        words = proc.info["cmdline"] or []
        if proc.info["name"] == "ssh" and "-N" in words and any(marker in w for w in words):
            found.append(proc)
    return found


def test_cf_runs_the_vnc_client_here_through_a_tunnel_that_ctys_closes(
    rctys, ssh_hosts, guest, short_tmp, ctys_env
) -> None:
    [host_a] = ssh_hosts(1)
    _vm(host_a, guest, "cfvm")
    client = short_tmp / "client.py"
    client.write_text(_CLIENT)
    report, shot = short_tmp / "report.json", short_tmp / "shot.png"
    viewer = f"{sys.executable} {client} {report} {shot}"

    done = rctys(
        "-t", "QEMU", "-a", f"CREATE=l:cfvm,CONSOLE:VNC,WAIT:{PROMPT}", "-L", "CF", "hostA",
        extra_env={"CTYS_VNCVIEWER": viewer}, timeout=180,
    )  # fmt: skip
    try:
        assert done.returncode == 0, done.stderr
        # The VM runs on hostA (the server there) ...
        assert len(_qemus(host_a)) == 1
        info = json.loads(report.read_text())
        # ... the client ran here, on a private local socket under the caller's runtime dir
        local_root = Path(ctys_env["CTYS_RUNTIME_DIR"]) / "tunnels"
        sock = Path(info["sock"])
        assert sock.parent.parent == local_root, info
        assert info["issock"] is True and info["dirmode"] == 0o700, info
        assert info["vncdo"] == 0
        # ... and saw the guest's screen through the tunnel.
        image = Image.open(shot)
        assert image.size[0] >= 640
        assert "forwarded to" in done.stderr and "cfvm" in done.stderr, done.stderr
        # The tunnel is closed and its socket and folder are gone.
        assert not sock.exists() and not sock.parent.exists()
        assert _tunnels(str(sock)) == []
    finally:
        cancel = rctys("-t", "QEMU", "-a", "CANCEL=l:cfvm,FORCE", "hostA", timeout=60)
    assert cancel.returncode == 0, cancel.stderr


def test_cf_a_failing_client_is_one_line_and_the_tunnel_still_closes(
    rctys, ssh_hosts, guest, ctys_env
) -> None:
    [host_a] = ssh_hosts(1)
    _vm(host_a, guest, "failvm")
    done = rctys(
        "-t", "QEMU", "-a", f"CREATE=l:failvm,CONSOLE:VNC,WAIT:{PROMPT}", "-L", "CF", "hostA",
        extra_env={"CTYS_VNCVIEWER": "/bin/false"}, timeout=180,
    )  # fmt: skip
    try:
        assert done.returncode == 1
        assert done.stderr.splitlines()[-1] == (
            "ctys: hostA: -L CF: the VNC client ended with status 1"
        ), done.stderr
        assert "Traceback" not in done.stderr
        tunnels = Path(ctys_env["CTYS_RUNTIME_DIR"]) / "tunnels"
        assert list(tunnels.iterdir()) == []  # socket and folder removed
        assert _tunnels(str(tunnels)) == []  # and no ssh left holding the forward
        assert len(_qemus(host_a)) == 1  # the VM itself keeps running there
    finally:
        rctys("-t", "QEMU", "-a", "CANCEL=l:failvm,FORCE", "hostA", timeout=60)


def test_dry_run_prints_the_ssh_lines_and_starts_nothing(rctys, ssh_hosts, guest) -> None:
    host_a, _ = ssh_hosts(2)
    _vm(host_a, guest, "dry")
    done = rctys("-t", "QEMU", "-a", "CREATE=l:dry,CONSOLE:VNC", "-n", "-Y", "hostA", "hostB")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["hostA", "hostB"]
    assert all(" -A " in line and " -- hostA " in lines[0] for line in lines), lines
    assert "CREATE=l:dry,CONSOLE:VNC" in lines[0]
    time.sleep(1)
    assert _qemus(host_a) == []


def _stuck_list(rctys, ssh_hosts, mode: str) -> float:
    start = time.monotonic()
    done = rctys(
        "-t", "QEMU", "-a", "LIST", "-b", f"0,{mode}", "stuck", "stuck2",
        extra_env={"CTYS_TARGET_TIMEOUT": "3"}, timeout=60,
    )  # fmt: skip
    seconds = time.monotonic() - start
    assert done.returncode != 0
    assert done.stderr.count("no answer within 3s") == 2, done.stderr
    return seconds


def test_b_seq_runs_targets_one_after_another_and_par_at_once(rctys, ssh_hosts) -> None:
    ssh_hosts.stuck()
    ssh_hosts.stuck("stuck2")
    par = _stuck_list(rctys, ssh_hosts, "par")
    seq = _stuck_list(rctys, ssh_hosts, "seq")
    assert par < 5.5, par  # both cut off at the same time
    assert seq >= 6.0, seq  # the second waited for the first


def test_a_ambiguous_label_creates_and_cancels_every_vm_it_names(ctys, guest, ctys_env) -> None:
    vms = Path(ctys_env["CTYS_VMPATH"])
    write_demo_conf(vms / "one", guest, "twin")
    write_demo_conf(vms / "two", guest, "twin")
    refused = ctys("-t", "QEMU", "-a", "CREATE=l:twin", "-b", "1")
    assert refused.returncode != 0 and "ambiguous" in refused.stderr
    assert "-A acts on all of them" in refused.stderr

    done = ctys("-t", "QEMU", "-a", "CREATE=l:twin,CONSOLE:VNC", "-b", "1", "-A", timeout=120)
    try:
        assert done.returncode == 0, done.stderr
        rows = [r for r in list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"]) if r["LABEL"] == "twin"]
        assert sorted(str(r["CONF"]) for r in rows) == sorted(
            str(vms / d / "twin.conf") for d in ("one", "two")
        ), rows
    finally:
        cancel = ctys("-t", "QEMU", "-a", "CANCEL=l:twin,FORCE", "-A", timeout=90)
    assert cancel.returncode == 0, cancel.stderr
    assert [r for r in list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"]) if r["LABEL"] == "twin"] == []


def test_c_only_resolves_from_the_inventory_alone(ctys, guest, ctys_env) -> None:
    vms = Path(ctys_env["CTYS_VMPATH"])
    write_demo_conf(vms / "known", guest, "known")
    assert ctys("-t", "QEMU", "-a", "ENUMERATE").returncode == 0
    write_demo_conf(vms / "fresh", guest, "fresh")  # added after the ENUMERATE
    # Without ONLY the scan finds it; with ONLY the inventory is all there is.
    done = ctys("-t", "QEMU", "-a", "CREATE=l:fresh,CONSOLE:VNC", "-b", "1", "-c", "ON,ONLY")
    assert done.returncode != 0
    assert "-c ON,ONLY: the cacheDB alone, no scan" in done.stderr, done.stderr
    assert list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"]) == []
    inventory = Path(ctys_env["CTYS_INVENTORY"])
    assert stat.S_ISREG(inventory.stat().st_mode)
    done = ctys("-t", "QEMU", "-a", "CREATE=l:known,CONSOLE:VNC", "-b", "1", "-c", "only")
    try:
        assert done.returncode == 0, done.stderr
        [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
        assert row["LABEL"] == "known"
    finally:
        ctys("-t", "QEMU", "-a", "CANCEL=l:known,FORCE", timeout=60)


def test_group_line_options_of_the_original_run(ctys, guest, ctys_env) -> None:
    """The options of the shipped group line ``(-a create=l:LAB02,reuse -c local
    -g 1268x992:A11:ALL -b 1,2)`` on a real guest: the screen part gets its one note."""
    write_demo_conf(Path(ctys_env["CTYS_VMPATH"]) / "lab02", guest, "LAB02")
    done = ctys(
        "-t", "QEMU", "-a", "create=l:LAB02,reuse,CONSOLE:VNC", "-c", "local",
        "-g", "1268x992:A11:ALL", "-b", "1,2", timeout=120,
    )  # fmt: skip
    try:
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
        assert row["LABEL"] == "LAB02"
    finally:
        ctys("-t", "QEMU", "-a", "CANCEL=l:LAB02,FORCE", timeout=60)


def test_c_local_resolves_a_remote_vm_from_the_callers_inventory(
    rctys, ssh_hosts, guest, short_tmp
) -> None:
    """A VM outside hostA's own VM folders: hostA alone cannot find it by label, the
    caller's inventory (filled by ENUMERATE=BASEPATH of hostA) can: -c local sends its conf
    path there."""
    [host_a] = ssh_hosts(1)
    extra = short_tmp / "extra"
    write_demo_conf(extra / "far", guest, "far")
    enum = rctys("-t", "QEMU", "-a", f"ENUMERATE=BASEPATH:{extra}", "hostA")
    assert enum.returncode == 0, enum.stderr

    scan = rctys("-t", "QEMU", "-a", "CREATE=l:far,CONSOLE:VNC", "-b", "1", "hostA")
    assert scan.returncode != 0 and "no VM matches" in scan.stderr, scan.stderr
    assert _qemus(host_a) == []

    done = rctys(
        "-t", "QEMU", "-a", "CREATE=l:far,CONSOLE:VNC", "-b", "1", "-c", "local", "hostA",
        timeout=120,
    )  # fmt: skip
    try:
        assert done.returncode == 0, done.stderr
        assert len(_qemus(host_a)) == 1
    finally:
        cancel = rctys("-t", "QEMU", "-a", "CANCEL=l:far,FORCE", "-c", "local", "hostA")
    assert cancel.returncode == 0, cancel.stderr
    deadline = time.monotonic() + 10
    while _qemus(host_a) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _qemus(host_a) == []


def test_cf_attaches_this_terminal_to_a_remote_serial_console_through_a_tunnel(
    ssh_hosts, guest, ctys_env
) -> None:
    [host_a] = ssh_hosts(1)
    _vm(host_a, guest, "serial")
    env = {**ctys_env, **ssh_hosts.remote_env}
    main, tty = pty.openpty()
    proc = subprocess.Popen(
        [*CTYS, "-t", "QEMU", "-a", f"CREATE=l:serial,CONSOLE:CLI,WAIT:{PROMPT}", "-L", "CF",
         "hostA"],
        env=env, stdin=tty, stdout=tty, stderr=tty, start_new_session=True,
    )  # fmt: skip
    os.close(tty)
    tunnels = Path(ctys_env["CTYS_RUNTIME_DIR"]) / "tunnels"
    try:
        seen = pty_read_until(main, b"[ctys] attached to serial", timeout=150)
        assert b"forwarded to " + str(tunnels).encode() in seen, seen[-600:]
        [folder] = list(tunnels.iterdir())  # the tunnel is open while attached
        assert stat.S_ISSOCK((folder / "console.sock").lstat().st_mode)
        os.write(main, b"echo cf-$((6*7))\r")
        pty_read_until(main, b"cf-42")
        os.write(main, b"\x1d")  # Ctrl-] detaches
        pty_read_until(main, b"[ctys] detached from serial")
        assert proc.wait(timeout=30) == 0
        assert list(tunnels.iterdir()) == [] and _tunnels(str(tunnels)) == []
        assert len(_qemus(host_a)) == 1  # the VM stays on hostA
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
        done = subprocess.run(
            [*CTYS, "-t", "QEMU", "-a", "CANCEL=l:serial,FORCE", "hostA"],
            env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
