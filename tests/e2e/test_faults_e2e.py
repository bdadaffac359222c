"""Faults injected under real TCG guests: a monitor that stops answering, a disk that fills
while the inventory is written, ENUMERATE racing CREATE, ctys killed in the middle of a
CREATE, a VNC port taken behind ctys's back, a stale record naming a living unrelated
process. (qemu killed -9 behind ctys's back: tests/e2e/test_lifecycle.py.)"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from ctys.address.vmid import vm_id
from ctys.errors import VmError
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord, VmRuntimeDir
from support.cli import CTYS, Ctys
from support.procs import live_qemu_pids
from support.rows import list_rows

CONF = "#@#MAGICID-QEMU\n#@#LABEL = {label}\n#@#UUID = {uuid}\nKERNEL=vmlinuz\n"


def _list(ctys: Ctys, ctys_env: dict[str, str]) -> list[dict[str, object]]:
    """This test's LIST rows (other qemus on the host are not ours to assert on)."""
    return list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])


def _rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])


def _write_confs(root: Path, start: int, stop: int) -> None:
    for i in range(start, stop):
        folder = root / f"f{i:05d}"
        folder.mkdir()
        (folder / f"f{i:05d}.conf").write_text(
            CONF.format(label=f"f{i:05d}", uuid=f"{i:08x}-0000-4000-8000-000000000000")
        )


def test_monitor_that_stops_answering_is_killed_within_the_bound(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    make_vm("mute")
    assert ctys("-t", "QEMU", "-a", "CREATE=l:mute", "-b", "1").returncode == 0
    [pid] = live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"])
    os.kill(pid, signal.SIGSTOP)  # the process lives, its QMP socket accepts but never answers
    try:
        started = time.monotonic()
        rows = _list(ctys, ctys_env)
        assert time.monotonic() - started < 8, "LIST blocked on a silent monitor"
        [row] = rows
        assert row["LABEL"] == "mute"
        assert row["MANAGED"] is True and row["STATE"] == "unknown"

        started = time.monotonic()
        done = ctys("-t", "QEMU", "-a", "CANCEL=l:mute,TIMEOUT:3", timeout=60)
        elapsed = time.monotonic() - started
    finally:
        if psutil.pid_exists(pid):
            os.kill(pid, signal.SIGCONT)
    assert done.returncode == 0, done.stderr
    assert "mute: killed" in done.stdout
    assert elapsed < 15, f"CANCEL took {elapsed:.1f}s"
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("mute-*"))


def _no_core_and_small_files(limit: int) -> Callable[[], None]:
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return setup


def test_disk_full_while_writing_the_inventory_keeps_the_old_one(
    ctys: Ctys, ctys_env: dict[str, str]
) -> None:
    root = Path(ctys_env["CTYS_VMPATH"])
    _write_confs(root, 0, 50)
    assert ctys("-t", "QEMU", "-a", "ENUMERATE=TERSE").returncode == 0
    db = Path(ctys_env["CTYS_INVENTORY"])
    assert _rows(db) == 50
    _write_confs(root, 50, 3000)

    limit = 256 * 1024  # the 3000-row update needs far more than this
    done = subprocess.run(
        [*CTYS, "-t", "QEMU", "-a", "ENUMERATE=TERSE"],
        env=ctys_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_no_core_and_small_files(limit),
    )
    assert done.returncode == 1, (done.stdout[-500:], done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"ctys: inventory {db}: ")
    # SQLite names the failed write (EFBIG) "disk I/O error", a full disk "database or disk
    # is full"; either way one line naming the inventory.
    assert "I/O error" in lines[0] or "full" in lines[0], lines[0]
    assert _rows(db) == 50  # the previous inventory, whole

    # Room again: the same ENUMERATE completes.
    assert ctys("-t", "QEMU", "-a", "ENUMERATE=TERSE", timeout=120).returncode == 0
    assert _rows(db) == 3000


def test_concurrent_enumerate_and_create(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    root = Path(ctys_env["CTYS_VMPATH"])
    for label in ("ra", "rb", "rc"):
        make_vm(label)
    _write_confs(root, 0, 600)
    assert ctys("-t", "QEMU", "-a", "ENUMERATE=TERSE").returncode == 0  # labels via inventory

    jobs: list[tuple[str, ...]] = []
    for _ in range(3):
        jobs.append(("-t", "QEMU", "-a", "ENUMERATE=TERSE"))
        jobs += [
            ("-t", "QEMU", "-a", f"CREATE=l:{label}", "-b", "1") for label in ("ra", "rb", "rc")
        ]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda args: (args, ctys(*args, timeout=120)), jobs))

    for args, done in results:
        if "ENUMERATE=TERSE" in args:
            assert done.returncode == 0, done.stderr
    for label in ("ra", "rb", "rc"):
        creates = [d for a, d in results if f"CREATE=l:{label}" in a]
        assert sorted(d.returncode for d in creates) == [0, 1, 1], [d.stderr for d in creates]
        assert all("already running" in d.stderr for d in creates if d.returncode)
    assert len(live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"])) == 3  # no double start
    assert _rows(Path(ctys_env["CTYS_INVENTORY"])) == 603  # no lost rows
    managed = {r["LABEL"] for r in _list(ctys, ctys_env) if r["MANAGED"] is True}
    assert managed == {"ra", "rb", "rc"}
    assert ctys("-t", "QEMU", "-a", "CANCEL=ALL,FORCE").returncode == 0
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []


def _kill_create_when(ctys_env: dict[str, str], label: str, ready: Callable[[Path], bool]) -> None:
    """Run CREATE and SIGKILL ctys as soon as ``ready(vm runtime folder)`` holds."""
    proc = subprocess.Popen(
        [*CTYS, "-t", "QEMU", "-a", f"CREATE=l:{label}", "-b", "1"],
        env=ctys_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    vms = Path(ctys_env["CTYS_RUNTIME_DIR"], "vms")
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        folders = list(vms.glob(f"{label}-*")) if vms.is_dir() else []
        if folders and ready(folders[0]):
            break
        time.sleep(0.001)
    proc.kill()
    proc.wait()


@pytest.mark.parametrize(
    "moment",
    ["folder", "record", "pidfile", "monitor"],
)
def test_ctys_killed_during_create_leaves_no_orphan(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str], moment: str
) -> None:
    make_vm("kc")
    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    ready = {
        "folder": lambda d: True,
        "record": lambda d: (d / "state.json").exists(),
        "pidfile": lambda d: (d / "qemu.pid").exists(),
        "monitor": lambda d: (d / "qmp.sock").exists(),
    }[moment]
    _kill_create_when(ctys_env, "kc", ready)
    time.sleep(0.3)  # a qemu that was spawned has written its pidfile by now

    rows = _list(ctys, ctys_env)
    qemus = live_qemu_pids(runtime)
    # Either the VM runs and is ours, or it is cleaned up: never a qemu nobody manages.
    assert [r["MANAGED"] for r in rows] in ([], [True]), rows
    assert len(qemus) == len(rows), (rows, qemus)
    if not rows:
        assert not list(Path(runtime, "vms").glob("kc-*"))

    again = ctys("-t", "QEMU", "-a", "CREATE=l:kc", "-b", "1")
    if rows:
        assert again.returncode == 1 and "already running" in again.stderr, again.stderr
    else:
        assert again.returncode == 0, again.stderr
    assert len(live_qemu_pids(runtime)) == 1
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:kc,FORCE")
    assert done.returncode == 0, done.stderr
    assert live_qemu_pids(runtime) == []
    assert not list(Path(runtime, "vms").glob("kc-*"))


def test_vnc_port_taken_after_the_check_still_fails_the_start(
    ctys_env: dict[str, str], short_tmp: Path
) -> None:
    # The backstop behind CREATE's port check: QEMU opens its monitor before its VNC server,
    # so a start only counts once the monitor answers a command.
    rundir = RuntimeDir().create_vm_dir("portrace")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        argv = [
            "qemu-system-x86_64",
            "-machine",
            "none",
            "-nodefaults",
            "-display",
            "none",
            "-qmp",
            f"unix:{rundir.qmp},server=on,wait=off",
            "-pidfile",
            str(rundir.pidfile),
            "-vnc",
            f"127.0.0.1:{port - 5900}",
        ]
        with pytest.raises(VmError, match=r"qemu failed to start: .*Address already in use"):
            VmHandle.launch(argv, rundir, ready_timeout=20)
    assert live_qemu_pids(str(rundir.path)) == []


def test_stale_record_of_a_living_unrelated_process_does_not_block_create(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    conf = make_vm("sl")
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        vmid = vm_id("sl", conf)
        rundir: VmRuntimeDir = RuntimeDir().create_vm_dir(vmid)
        rundir.write_record(RuntimeRecord(vmid=vmid, label="sl", conf=str(conf), pid=sleeper.pid))
        rundir.pidfile.write_text(f"{sleeper.pid}\n")
        done = ctys("-t", "QEMU", "-a", "LIST=JSON")
        assert not [r for r in json.loads(done.stdout) if r["PID"] == sleeper.pid]

        rundir = RuntimeDir().create_vm_dir(vmid)
        rundir.write_record(RuntimeRecord(vmid=vmid, label="sl", conf=str(conf), pid=sleeper.pid))
        done = ctys("-t", "QEMU", "-a", "CREATE=l:sl", "-b", "1")
        assert done.returncode == 0, done.stderr
        [row] = _list(ctys, ctys_env)
        assert row["LABEL"] == "sl"
        assert row["MANAGED"] is True and row["PID"] != sleeper.pid
        assert ctys("-t", "QEMU", "-a", "CANCEL=l:sl,FORCE").returncode == 0
        assert sleeper.poll() is None, "ctys touched an unrelated process"
    finally:
        sleeper.kill()
        sleeper.wait()
