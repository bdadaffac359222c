"""WATCH over two real sshd hosts: one stream, every lifecycle event of each VM in order,
and Ctrl-C ends it cleanly (``sshhosts.py`` hosts, real TCG guests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from sshhosts import SshHost, SshHosts

from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images.build import GuestImage
from support.cli import CTYS, Ctys

pytestmark = pytest.mark.e2e

OURS = {"START", "STOP", "RESUME", "GONE"}


def _vm(host: SshHost, guest: GuestImage, label: str) -> Path:
    return write_demo_conf(host.vms / label, guest, label)


def _wait_for(path: Path, count: int, timeout: float = 60) -> list[dict[str, object]]:
    """The events of our VMs (``OURS``) in ``path`` once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    events: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines()
        events = [e for e in map(json.loads, lines) if e["event"] in OURS]
        if len(events) >= count:
            break
        time.sleep(0.2)
    return events


def _start_watch(
    env: dict[str, str], out: Path, action: str = "WATCH=JSON"
) -> subprocess.Popen[str]:
    """``ctys -a <action> hostA hostB`` in its own session, its lines into ``out``."""
    with out.open("w") as sink:
        return subprocess.Popen(
            [*CTYS, "-t", "QEMU", "-a", action, "hostA", "hostB"],
            env=env,
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


def _interrupt(watch: subprocess.Popen[str]) -> str:
    """Ctrl-C to the stream; its stderr once it ended (killed if it does not)."""
    os.killpg(watch.pid, signal.SIGINT)
    try:
        return watch.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        os.killpg(watch.pid, signal.SIGKILL)
        return watch.communicate()[1]


def test_one_stream_shows_every_event_of_each_host_in_order(
    rctys: Ctys,
    ssh_hosts: SshHosts,
    guest: GuestImage,
    ctys_env: dict[str, str],
    tmp_path: Path,
) -> None:
    from ctys.plugins.qemu.demo.realvm import existing_uuid

    host_a, host_b = ssh_hosts(2)
    wa_uuid = existing_uuid(_vm(host_a, guest, "wa"))
    _vm(host_b, guest, "wb")
    out = tmp_path / "events.jsonl"
    env = {**ctys_env, **ssh_hosts.remote_env, "CTYS_WATCH_INTERVAL": "0.3"}
    watch = _start_watch(env, out)
    # A second WATCH, of one VM by its UUID: it finds wa's event monitor held by the
    # first (or holds it first) and still sees every state a poll can.
    only = tmp_path / "only-wa.jsonl"
    second = _start_watch(env, only, f"WATCH=UUID:{wa_uuid},JSON")
    try:
        time.sleep(3)  # both remote streams are up before the first VM starts
        for label, host in (("wa", "hostA"), ("wb", "hostB")):
            done = rctys("-t", "QEMU", "-a", f"CREATE=l:{label},CONSOLE:NONE", "-b", "1", host)
            assert done.returncode == 0, done.stderr
        paused = rctys("-t", "QEMU", "-a", "CANCEL=l:wa,PAUSE", "hostA")
        assert paused.returncode == 0, paused.stderr
        time.sleep(1.5)  # the pause is seen before the VM ends
        for label, host in (("wa", "hostA"), ("wb", "hostB")):
            done = rctys("-t", "QEMU", "-a", f"CANCEL=l:{label},FORCE,TIMEOUT:5", host)
            assert done.returncode == 0, done.stderr
        events = _wait_for(out, 5)
        only_wa = _wait_for(only, 3)
        streams = psutil.Process(watch.pid).children(recursive=True)  # the ssh per host
        names = [p.name() for p in streams]
    finally:
        err = _interrupt(watch)
        second_err = _interrupt(second)
    assert watch.returncode == 130, err
    assert second.returncode == 130, second_err
    assert "Traceback" not in err + second_err, err + second_err
    assert [(e["host"], e["label"], e["event"]) for e in only_wa] == [
        ("hostA", "wa", "START"),
        ("hostA", "wa", "STOP"),
        ("hostA", "wa", "GONE"),
    ], only_wa
    seen = {
        (str(e["host"]), str(e["label"])): [x["event"] for x in events if x["label"] == e["label"]]
        for e in events
    }
    assert seen == {
        ("hostA", "wa"): ["START", "STOP", "GONE"],
        ("hostB", "wb"): ["START", "GONE"],
    }, events
    # One ssh per host streamed, and none is left behind.
    assert names.count("ssh") >= 2, names
    time.sleep(0.5)
    assert [p for p in streams if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


# --- QMP events (the event-only monitor) ---------------------------------------------------

QMP_OURS = {
    "START",
    "RESET",
    "BLOCK_JOB_COMPLETED",
    "STOP",
    "RESUME",
    "POWERDOWN",
    "SHUTDOWN",
    "GONE",
}


def _events_of(path: Path, label: str) -> list[dict[str, object]]:
    return [e for e in map(json.loads, path.read_text().splitlines()) if e["label"] == label]


def _until(path: Path, label: str, event: str, act: Callable[[], object], every: float) -> None:
    """Do ``act`` every ``every`` seconds until ``label``'s ``event`` is in the stream (a
    RESET: one the test asked for, not the firmware's own reset of a rebooting guest)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        act()
        turn = time.monotonic() + every
        while time.monotonic() < turn:
            if any(e["event"] == event and _asked(e) for e in _events_of(path, label)):
                return
            time.sleep(0.1)
    raise AssertionError(f"no {event} of {label}: {_events_of(path, label)}")


def _booted_again(console_log: Path, after: int, timeout: float = 90) -> None:
    """Wait until the tiny guest says it is ready past byte ``after`` of its console log
    (written when it was reset): before that, its kernel does not yet listen to the ACPI
    power button."""
    deadline = time.monotonic() + timeout
    while b"CTYS-GUEST-READY" not in console_log.read_bytes()[after:]:
        if time.monotonic() >= deadline:
            raise AssertionError(f"{console_log}: the guest did not boot again after its reset")
        time.sleep(0.2)


def _asked(event: dict[str, object]) -> bool:
    """One of ``QMP_OURS``, a reset only when the test asked for it (not the guest)."""
    guest_reset = event["event"] == "RESET" and "guest=true" in str(event["detail"])
    return event["event"] in QMP_OURS and not guest_reset


def _collapsed(names: list[object]) -> list[object]:
    # A probe repeated until it is seen shows once or more: once here.
    return [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]


def test_qmp_events_of_each_vm_reach_the_stream_in_order(
    rctys: Ctys,
    ssh_hosts: SshHosts,
    guest: GuestImage,
    ctys_env: dict[str, str],
    tmp_path: Path,
) -> None:
    from ctys.address.vmid import vm_id
    from ctys.plugins.qemu.vm.qmp import QmpSession

    host_a, host_b = ssh_hosts(2)
    confs = {"qa": (host_a, _vm(host_a, guest, "qa")), "qb": (host_b, _vm(host_b, guest, "qb"))}
    out = tmp_path / "events.jsonl"
    # A long interval: the pause and resume below come milliseconds apart, far inside it,
    # and RESET, POWERDOWN and the block job leave no state a poll could see.
    env = {**ctys_env, **ssh_hosts.remote_env, "CTYS_WATCH_INTERVAL": "4"}
    watch = _start_watch(env, out)
    sessions: list[QmpSession] = []
    reset_at: dict[str, int] = {}  # each console log's size once its VM was reset
    try:
        time.sleep(3)
        for label, (host, _conf) in confs.items():
            name = "hostA" if host is host_a else "hostB"
            done = rctys("-t", "QEMU", "-a", f"CREATE=l:{label},CONSOLE:NONE", "-b", "1", name)
            assert done.returncode == 0, done.stderr
        for label, (host, conf) in confs.items():
            assert host.runtime is not None
            qmp = QmpSession(host.runtime / "vms" / vm_id(label, conf) / "qmp.sock")
            sessions.append(qmp)
            # A RESET no poll can see: repeated until WATCH holds the VM's event monitor.
            _until(out, label, "RESET", lambda q=qmp: q.execute("system_reset"), 1.5)
            reset_at[label] = (qmp.socket_path.parent / "console.log").stat().st_size
            for node in ("src", "dst"):
                node_args = {"driver": "null-co", "node-name": f"{label}{node}", "size": 1 << 20}
                qmp.execute("blockdev-add", node_args)
            job = {"job-id": f"{label}j", "device": f"{label}src", "target": f"{label}dst"}
            qmp.execute("blockdev-backup", {**job, "sync": "full"})
            qmp.execute("stop")
            qmp.execute("cont")  # within milliseconds: no poll lands between them
        for qmp in sessions:
            qmp.close()  # CANCEL needs the command monitor (QEMU serves one client)
        # hostA's guest is powered off by its ACPI button (pressed until it has booted
        # again after the reset), hostB's by CANCEL once it has booted again.
        qa = sessions[0]
        _until(out, "qa", "SHUTDOWN", lambda: qa.execute("system_powerdown"), 3)
        qa.close()
        qb_log = sessions[1].socket_path.parent / "console.log"
        _booted_again(qb_log, reset_at["qb"])
        done = rctys("-t", "QEMU", "-a", "CANCEL=l:qb,TIMEOUT:60", "hostB", timeout=120)
        assert done.returncode == 0, done.stderr
        for label in confs:
            _until(out, label, "GONE", lambda: None, 1)
    finally:
        for qmp in sessions:
            qmp.close()
        err = _interrupt(watch)
    assert watch.returncode == 130, err
    assert "Traceback" not in err, err
    expected = ["START", "RESET", "BLOCK_JOB_COMPLETED", "STOP", "RESUME", "POWERDOWN",
                "SHUTDOWN", "GONE"]  # fmt: skip
    for label, host in (("qa", "hostA"), ("qb", "hostB")):
        events = _events_of(out, label)
        assert {e["host"] for e in events} == {host}, events
        # The firmware resets the machine again as it boots (reason=guest-reset): only
        # the resets asked for are in the order checked.
        names = _collapsed([e["event"] for e in events if _asked(e)])
        assert names == expected, events
        reset = next(e for e in events if e["event"] == "RESET")
        assert "reason=host-qmp-system-reset guest=false" in str(reset["detail"]), reset
        shutdown = next(e for e in events if e["event"] == "SHUTDOWN")
        assert "reason=guest-shutdown" in str(shutdown["detail"]), shutdown
        job = next(e for e in events if e["event"] == "BLOCK_JOB_COMPLETED")
        assert f"device={label}j" in str(job["detail"]), job
