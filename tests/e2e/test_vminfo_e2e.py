"""LIST=ALLVMS, INFO=<address> and its LOG on the real tiny guest (TCG)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from support.cli import Ctys
from support.rows import own_rows

READY = "CTYS-GUEST-READY"


def _with_disk(conf: Path) -> Path:
    """A qcow2 overlay on a base image beside the conf, named by the conf as its disk."""
    base, disk = conf.parent / "base.qcow2", conf.parent / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "32M"], check=True)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(disk)],
        check=True,
    )
    conf.write_text(conf.read_text() + f"HDDBOOTIMAGE={disk}\n")
    return disk


def _all_rows(ctys: Ctys, ctys_env: dict[str, str]) -> list[dict[str, object]]:
    """LIST=ALLVMS,JSON: this test's rows only (its runtime dir, or a conf in its VM path)."""
    done = ctys("-t", "QEMU", "-a", "LIST=ALLVMS,JSON")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    vms = ctys_env["CTYS_VMPATH"].rstrip("/") + "/"
    mine = own_rows(rows, ctys_env["CTYS_RUNTIME_DIR"])
    stopped = [r for r in rows if r["STATE"] == "shut off" and str(r["CONF"]).startswith(vms)]
    return mine + stopped


def test_list_allvms_info_and_logs_after_cancel(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    disk = _with_disk(make_vm("ivrun"))
    make_vm("ivstop")
    done = ctys(
        "-t", "QEMU", "-a", f"CREATE=l:ivrun,BOOTMODE:KERNEL,WAIT:{READY}", "-b", "1", timeout=150
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    rows = _all_rows(ctys, ctys_env)
    print("LIST=ALLVMS rows:", json.dumps(rows))
    states = sorted((str(r["LABEL"]), str(r["STATE"])) for r in rows)
    assert states == [("ivrun", "running"), ("ivstop", "shut off")]  # the running one once
    [stopped] = [r for r in rows if r["LABEL"] == "ivstop"]
    assert stopped["PID"] is None and str(stopped["VMID"]).startswith("ivstop-")

    done = ctys("-t", "QEMU", "-a", "INFO=l:ivrun")
    print("INFO=l:ivrun:\n" + done.stdout)
    assert done.returncode == 0, done.stderr
    assert "state  running" in done.stdout and str(disk) in done.stdout
    done = ctys("-t", "QEMU", "-a", "INFO=l:ivrun,JSON")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    [row] = [r for r in rows if r["LABEL"] == "ivrun"]
    assert info["runtime"]["pid"] == row["PID"] and info["runtime"]["accelerator"] == "tcg"
    assert info["runtime"]["rss_bytes"] > 0 and info["runtime"]["uptime_s"] >= 0
    assert str(info["runtime"]["qmp"]).startswith(ctys_env["CTYS_RUNTIME_DIR"])
    [d] = info["disks"]
    assert (d["path"], d["format"], d["virtual_size"]) == (str(disk), "qcow2", 32 << 20)
    assert d["backing_chain"] == [str(disk.parent / "base.qcow2")]

    assert ctys("-t", "QEMU", "-a", "CANCEL=l:ivrun,FORCE").returncode == 0
    done = ctys("-t", "QEMU", "-a", "INFO=l:ivrun,LOG:200")
    print("INFO=l:ivrun,LOG:200 after CANCEL:\n" + done.stdout)
    assert done.returncode == 0, done.stderr
    assert "console.log (last run):" in done.stdout and READY in done.stdout
    assert "\x1b" not in done.stdout  # the guest's escape sequences are shown escaped
    done = ctys("-t", "QEMU", "-a", "INFO=l:ivrun")
    assert (
        done.returncode == 0 and "state  shut off" in done.stdout and "Runtime:" not in done.stdout
    )
    states = sorted((str(r["LABEL"]), str(r["STATE"])) for r in _all_rows(ctys, ctys_env))
    assert states == [("ivrun", "shut off"), ("ivstop", "shut off")]


def test_logs_of_a_killed_vm_are_kept_and_readable(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    make_vm("ivkill")
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:ivkill,WAIT:{READY}", "-b", "1", timeout=150)
    assert done.returncode == 0, done.stderr
    info = json.loads(ctys("-t", "QEMU", "-a", "INFO=l:ivkill,JSON").stdout)
    os.kill(int(info["runtime"]["pid"]), signal.SIGKILL)  # no CANCEL: its folder is stale
    deadline = time.monotonic() + 10
    while psutil.pid_exists(int(info["runtime"]["pid"])) and time.monotonic() < deadline:
        time.sleep(0.1)
    done = ctys("-t", "QEMU", "-a", "INFO=l:ivkill,LOG:100,JSON")
    print("INFO=l:ivkill,LOG:100,JSON after kill -9:\n" + done.stdout)
    assert done.returncode == 0, done.stderr
    logs = {t["name"]: t for t in json.loads(done.stdout)["logs"]}
    assert logs["console.log"]["live"] is False and any(
        READY in line for line in logs["console.log"]["lines"]
    )
    assert str(logs["console.log"]["path"]).startswith(ctys_env["XDG_STATE_HOME"])
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("ivkill-*"))
