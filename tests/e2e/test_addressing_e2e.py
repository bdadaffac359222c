"""Running VMs found by every address, foreign qemus of ours cancelled, CANCEL that does
not wait on VMs that cannot answer ACPI (issue 9, points 6, 9, 12 and 19)."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from ctys.plugins.qemu.demo.demovm import kernel_append, write_demo_conf
from ctys.plugins.qemu.images.build import GuestImage
from support.cli import Ctys
from support.procs import live_qemu_pids

READY = "CTYS-GUEST-READY"
PROMPT = "guest#"  # the serial shell is up; input typed before it would be lost


def _create(ctys: Ctys, *suboptions: str) -> None:
    done = ctys("-t", "QEMU", "-a", "CREATE=" + ",".join(suboptions), "-b", "1", timeout=120)
    assert done.returncode == 0, done.stderr


def _enumerate(ctys: Ctys) -> None:
    done = ctys("-t", "QEMU", "-a", "ENUMERATE")
    assert done.returncode == 0, done.stderr


def _row(ctys: Ctys, rt: str, label: str) -> dict[str, object]:
    done = ctys("-t", "QEMU", "-a", "LIST=JSON", "-o", "ALL")
    assert done.returncode == 0, done.stderr
    # Only rows of this test's own runtime dir: other qemus on the host may share labels.
    [row] = [r for r in json.loads(done.stdout) if r["LABEL"] == label and rt in str(r["QMP"])]
    return row


def test_vm_from_a_conf_outside_the_vm_folders_is_listed_and_cancelled_by_label(
    ctys: Ctys, make_vm, guest: GuestImage, ctys_env: dict[str, str], short_tmp: Path
) -> None:
    make_vm("other")
    _enumerate(ctys)  # the inventory is filled, but knows nothing of the VM below
    label = f"far{uuid.uuid4().hex[:6]}"
    conf = write_demo_conf(short_tmp / "elsewhere", guest, label)
    with conf.open("a") as out:
        out.write("#@#IP = 10.9.9.9\n")
    _create(ctys, f"F:{conf}", "CONSOLE:CLI", f"WAIT:{PROMPT}")  # CONNECT attaches the CLI

    rt = ctys_env["CTYS_RUNTIME_DIR"]
    assert _row(ctys, rt, label)["IP"] == "10.9.9.9"
    attached = ctys("-t", "QEMU", "-a", f"CREATE=l:{label},CONNECT", stdin="echo via-$((40+2))\n")
    assert attached.returncode == 0, attached.stderr
    assert "via-42" in attached.stdout
    done = ctys("-t", "QEMU", "-a", f"CANCEL=l:{label},TIMEOUT:20")
    assert done.returncode == 0, done.stderr
    assert f"{label}: powered off by the guest (ACPI)" in done.stdout
    assert done.stderr == ""  # the runtime record answered: no inventory miss, no scan
    assert live_qemu_pids(rt) == []


def test_vm_whose_label_was_edited_after_start_is_cancelled_by_the_new_label(
    ctys: Ctys, make_vm, ctys_env: dict[str, str]
) -> None:
    conf = make_vm("before")
    _enumerate(ctys)
    _create(ctys, "l:before", f"WAIT:{READY}")
    conf.write_text(conf.read_text().replace("#@#LABEL = before", "#@#LABEL = after"))

    done = ctys("-t", "QEMU", "-a", "CANCEL=l:after,TIMEOUT:20")
    assert done.returncode == 0, done.stderr
    assert "before: powered off by the guest (ACPI)" in done.stdout
    # The inventory still says "before": one line says a scan found "after".
    [note] = done.stderr.splitlines()
    assert "LABEL:after is not in the inventory" in note and "found by a scan" in note
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []


def test_running_vm_is_cancelled_by_id_the_conf_path_and_listed_with_its_vmid(
    ctys: Ctys, make_vm, ctys_env: dict[str, str]
) -> None:
    # The original's ID of a QEMU VM is its conf file's path (COMPAT §5); the runtime
    # id ctys names its folder by is VMID, shown by LIST.
    conf = make_vm("byid")
    _create(ctys, f"P:{conf}", f"WAIT:{READY}")
    rt = ctys_env["CTYS_RUNTIME_DIR"]
    row = _row(ctys, rt, "byid")
    assert row["CONF"] == str(conf) and str(row["VMID"]).startswith("byid-")
    listed = ctys("-t", "QEMU", "-a", "LIST=TERSE", "-o", "ID,VMID")
    assert f"{conf};{row['VMID']}" in listed.stdout.splitlines(), listed.stdout

    done = ctys("-t", "QEMU", "-a", f"CANCEL=ID:{conf},TIMEOUT:20")
    assert done.returncode == 0, done.stderr
    assert "byid: powered off by the guest (ACPI)" in done.stdout
    assert live_qemu_pids(rt) == []


# --- foreign qemus -----------------------------------------------------------------------


def _bare_qemu(guest: GuestImage, rt: str, label: str, monitor: str) -> subprocess.Popen[bytes]:
    """A qemu started by hand, not by ctys (its files are in the test's runtime dir, so the
    test's teardown reaps it)."""
    Path(rt).mkdir(mode=0o700, exist_ok=True)
    argv = [
        "qemu-system-x86_64", "-name", label, "-m", "256", "-accel", "tcg",
        "-display", "none", "-monitor", "none", "-serial", f"file:{rt}/{label}.log",
        "-kernel", str(guest.kernel), "-initrd", str(guest.initrd),
        "-append", kernel_append(), "-pidfile", f"{rt}/{label}.pid",
    ]  # fmt: skip
    if monitor:  # "qmp" or "monitor" (the human monitor)
        argv += [f"-{monitor}", f"unix:{rt}/{label}.{monitor},server=on,wait=off"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    log = Path(rt) / f"{label}.log"
    deadline = time.monotonic() + 90
    while READY not in (log.read_text(errors="replace") if log.exists() else ""):
        assert proc.poll() is None and time.monotonic() < deadline, "bare qemu did not boot"
        time.sleep(0.2)
    return proc


@pytest.mark.parametrize("monitor", ["qmp", "monitor"])
def test_foreign_qemu_with_a_monitor_is_cancelled_by_label_through_it(
    ctys: Ctys, guest: GuestImage, ctys_env: dict[str, str], monitor: str
) -> None:
    label = f"hand{uuid.uuid4().hex[:6]}"
    proc = _bare_qemu(guest, ctys_env["CTYS_RUNTIME_DIR"], label, monitor)
    done = ctys("-t", "QEMU", "-a", f"CANCEL=l:{label},TIMEOUT:20")
    assert done.returncode == 0, done.stderr
    assert f"{label}: powered off by the guest (ACPI)" in done.stdout
    assert proc.wait(timeout=10) == 0


def test_foreign_qemu_without_qmp_needs_force_and_then_gets_sigterm(
    ctys: Ctys, guest: GuestImage, ctys_env: dict[str, str]
) -> None:
    label = f"bare{uuid.uuid4().hex[:6]}"
    proc = _bare_qemu(guest, ctys_env["CTYS_RUNTIME_DIR"], label, "")

    refused = ctys("-t", "QEMU", "-a", f"CANCEL=VMID:{proc.pid}")
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert "names no QMP or monitor socket" in line and "FORCE" in line
    assert proc.poll() is None

    everything = ctys("-t", "QEMU", "-a", "CANCEL=ALL")
    assert everything.returncode == 0, everything.stderr
    left = re.search(r"left (\d+) qemu\(s\) not started by ctys alone", everything.stdout)
    assert left is not None and int(left.group(1)) >= 1, everything.stdout
    assert proc.poll() is None

    done = ctys("-t", "QEMU", "-a", f"CANCEL=VMID:{proc.pid},FORCE,TIMEOUT:10")
    assert done.returncode == 0, done.stderr
    assert f"{label}: stopped by SIGTERM" in done.stdout
    proc.wait(timeout=10)


# --- CANCEL that does not wait for nothing --------------------------------------------------


def test_cancel_of_a_paused_vm_skips_acpi(ctys: Ctys, make_vm, ctys_env: dict[str, str]) -> None:
    make_vm("sleepy")
    _create(ctys, "l:sleepy", f"WAIT:{READY}")
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:sleepy,PAUSE").returncode == 0
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:sleepy,TIMEOUT:30")
    assert done.returncode == 0, done.stderr
    assert "sleepy: stopped by QEMU quit; ACPI skipped: the VM is paused" in done.stdout
    seconds = float(re.search(r"\((\d+\.\d)s\)", done.stdout).group(1))  # type: ignore[union-attr]
    assert seconds < 30
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []


def test_cancel_all_stops_deaf_vms_in_parallel(
    ctys: Ctys, make_vm, ctys_env: dict[str, str]
) -> None:
    labels = ["deafa", "deafb", "deafc"]
    for label in labels:
        make_vm(label, noacpi=True)
        _create(ctys, f"l:{label}")
    started = time.monotonic()
    done = ctys("-t", "QEMU", "-a", "CANCEL=ALL,TIMEOUT:3")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    stopped = [line for line in done.stdout.splitlines() if "ignored ACPI for 3s" in line]
    assert sorted(line.split(":")[0] for line in stopped) == labels
    # One after the other they take at least 3 x 3 s; side by side about one timeout.
    assert elapsed < 9, done.stdout
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []


def test_two_concurrent_cancels_of_one_vm_agree(
    ctys: Ctys, make_vm, ctys_env: dict[str, str]
) -> None:
    make_vm("twice", noacpi=True)
    _create(ctys, "l:twice")
    [pid] = live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"])
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(lambda _: ctys("-t", "QEMU", "-a", "CANCEL=l:twice,TIMEOUT:3"), [0, 1])
        )
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    outcomes = sorted(r.stdout.strip() for r in runs)
    assert outcomes[0].startswith("twice: stopped by QEMU quit after the guest ignored ACPI")
    assert outcomes[1] == "twice: was not running"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
