"""SNAPSHOT with the real tiny guest under TCG: a running VM's snapshot (QMP jobs) takes
RAM and disks, so a file changed in the guest after CREATE is back as it was after APPLY
(read through the serial console); a stopped VM's snapshot (qemu-img) takes its disks, so
what the guest wrote to its disk after CREATE is gone after APPLY; LIST in its three
forms; a raw disk and a disk another VM holds are refused; a stopped VM on a remote target.

Boots: 3 guests."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from ctys.consoles.serial import SerialConsole
from support.disks import with_disk

pytestmark = pytest.mark.e2e

PROMPT = "guest#"


def _console(ctys_env: dict[str, str], label: str) -> SerialConsole:
    [sock] = Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob(f"{label}-*/console.sock")
    return SerialConsole(sock, timeout=30)


def _answer(console: SerialConsole, command: str) -> bytes:
    """Run ``command`` in the guest's shell; its output between markers the echo of the
    typed line cannot match (split by '')."""
    console.send_line(f"echo B''EGIN; {command}; echo E''ND")
    pattern = re.compile(rb"BEGIN\r?\n(.*?)END", re.S)
    match = pattern.search(console.read_until(pattern))
    assert match is not None
    return match.group(1).strip()


def _snap(ctys, label: str, *subs: str) -> subprocess.CompletedProcess[str]:
    return ctys("-t", "QEMU", "-a", ",".join([f"SNAPSHOT=l:{label}", *subs]), timeout=180)


def _boot(ctys, label: str) -> None:
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:{label},WAIT:{PROMPT}", "-b", "1")
    assert done.returncode == 0, done.stderr


def test_running_vm_snapshot_apply_undoes_a_changed_file(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("snr")
    disk = with_disk(conf, "qcow2", "virtio")
    _boot(ctys, "snr")
    with _console(ctys_env, "snr") as console:
        assert _answer(console, "echo before > /tmp/mark; cat /tmp/mark") == b"before"
    created = _snap(ctys, "snr", "CREATE:clean")
    print("CREATE:", created.stdout, created.stderr)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("VM snr: snapshot clean created (")
    assert created.stdout.endswith("s; running VM: QMP, RAM and disks)\n"), created.stdout

    with _console(ctys_env, "snr") as console:
        assert _answer(console, "echo after > /tmp/mark; cat /tmp/mark") == b"after"

    listed = _snap(ctys, "snr", "LIST", "JSON")
    print("LIST JSON:", listed.stdout)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["TAG"] == "clean" and row["ID"] == "1" and row["DISKS"] == 1
    assert row["VMSTATE"] > 1_000_000 and row["VMCLOCK"] > 0  # RAM was saved, the guest ran
    table = _snap(ctys, "snr")  # LIST is the default, a table
    print("LIST table:", table.stdout)
    assert "TAG" in table.stdout and "clean" in table.stdout and "MiB" in table.stdout

    again = _snap(ctys, "snr", "CREATE:clean")
    assert again.returncode != 0 and "has a snapshot 'clean' already" in again.stderr
    unknown = _snap(ctys, "snr", "APPLY:nosuch")
    assert unknown.returncode != 0
    assert "has no snapshot 'nosuch' (it has: clean)" in unknown.stderr, unknown.stderr

    # A second VM (its own label and UUID) on the same disk, not running: the disk is held.
    other = conf.with_name("other.conf")
    text = re.sub(r"#@#UUID = \S+", f"#@#UUID = {uuid.uuid4()}", conf.read_text())
    other.write_text(text.replace("#@#LABEL = snr", "#@#LABEL = other"))
    held = _snap(ctys, "other", "CREATE:x")
    print("in use:", held.stderr)
    assert held.returncode != 0
    assert f"its disk {disk} is in use by VM snr (pid " in held.stderr, held.stderr

    applied = _snap(ctys, "snr", "APPLY:clean")
    print("APPLY:", applied.stdout, applied.stderr)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.startswith("VM snr: snapshot clean applied ("), applied.stdout
    with _console(ctys_env, "snr") as console:
        assert _answer(console, "cat /tmp/mark | tr a-z A-Z") == b"BEFORE"

    deleted = _snap(ctys, "snr", "DELETE:clean")
    assert deleted.returncode == 0, deleted.stderr
    empty = _snap(ctys, "snr", "LIST", "JSON")
    assert json.loads(empty.stdout) == []


def _disk_head(disk: Path) -> str:
    out = subprocess.run(
        ["qemu-io", "-f", "qcow2", "-r", "-c", "read -v 0 16", str(disk)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout


def test_stopped_vm_snapshot_apply_undoes_a_disk_write(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("sns")
    disk = with_disk(conf, "qcow2", "virtio")
    created = _snap(ctys, "sns", "CREATE:blank")
    print("CREATE (stopped):", created.stdout, created.stderr)
    assert created.returncode == 0, created.stderr
    assert created.stdout == (
        "VM sns: snapshot blank created on 1 disk (stopped VM: qemu-img, disks only)\n"
    )
    terse = _snap(ctys, "sns", "LIST", "TERSE", "TITLE")
    print("LIST TERSE:", terse.stdout)
    header, line = terse.stdout.splitlines()
    assert header == "TAG;ID;VMSTATE;DATE;VMCLOCK;DISKS"
    assert line.startswith("blank;1;-;") and line.endswith(";00:00:00.000;1")

    _boot(ctys, "sns")
    with _console(ctys_env, "sns") as console:
        _answer(console, "printf MARKMARK > /dev/vda; sync")
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:sns,S5:0").returncode == 0
    assert "MARKMARK" in _disk_head(disk)

    applied = _snap(ctys, "sns", "APPLY:blank")
    print("APPLY (stopped):", applied.stdout, applied.stderr)
    assert applied.returncode == 0, applied.stderr
    assert "MARKMARK" not in _disk_head(disk)
    deleted = _snap(ctys, "sns", "DELETE:blank")
    assert deleted.returncode == 0, deleted.stderr
    assert (
        "blank"
        not in subprocess.run(
            ["qemu-img", "snapshot", "-l", str(disk)], capture_output=True, text=True, check=True
        ).stdout
    )


def test_raw_disks_are_refused(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("snraw")
    disk = with_disk(conf, "raw", "virtio")
    stopped = _snap(ctys, "snraw", "CREATE:x")
    print("raw (stopped):", stopped.stderr)
    assert stopped.returncode != 0
    assert f"its disk {disk} is raw: only qcow2 disks hold snapshots" in stopped.stderr
    _boot(ctys, "snraw")
    running = _snap(ctys, "snraw", "CREATE:x")
    print("raw (running):", running.stderr)
    assert running.returncode != 0
    assert "is raw: only qcow2 disks hold snapshots" in running.stderr, running.stderr
    assert "Traceback" not in running.stderr


def test_snapshot_on_a_remote_target(rctys, ssh_hosts, guest) -> None:
    from ctys.plugins.qemu.demo.demovm import write_demo_conf

    [host_a] = ssh_hosts(1)
    conf = write_demo_conf(host_a.vms / "rsn", guest, "rsn")
    with_disk(conf, "qcow2")
    done = rctys("-t", "QEMU", "-a", "SNAPSHOT=l:rsn,CREATE:remote1", "hostA")
    print("remote CREATE:", done.stdout, done.stderr)
    assert done.returncode == 0, done.stderr
    assert "VM rsn: snapshot remote1 created on 1 disk (stopped VM: qemu-img" in done.stdout
    listed = rctys("-t", "QEMU", "-a", "SNAPSHOT=l:rsn,LIST,TERSE", "hostA")
    print("remote LIST TERSE:", listed.stdout)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()  # a target's lines carry its name
    assert any(ln.startswith("hostA: remote1;1;-;") for ln in lines), listed.stdout
