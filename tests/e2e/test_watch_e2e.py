"""WATCH over two real sshd hosts: one stream, every lifecycle event of each VM in order,
and Ctrl-C ends it cleanly (``sshhosts.py`` hosts, real TCG guests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
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


def test_one_stream_shows_every_event_of_each_host_in_order(
    rctys: Ctys,
    ssh_hosts: SshHosts,
    guest: GuestImage,
    ctys_env: dict[str, str],
    tmp_path: Path,
) -> None:
    host_a, host_b = ssh_hosts(2)
    _vm(host_a, guest, "wa")
    _vm(host_b, guest, "wb")
    out = tmp_path / "events.jsonl"
    env = {**ctys_env, **ssh_hosts.remote_env, "CTYS_WATCH_INTERVAL": "0.3"}
    with out.open("w") as sink:
        watch = subprocess.Popen(
            [*CTYS, "-t", "QEMU", "-a", "WATCH=JSON", "hostA", "hostB"],
            env=env,
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
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
        streams = psutil.Process(watch.pid).children(recursive=True)  # the ssh per host
        names = [p.name() for p in streams]
    finally:
        os.killpg(watch.pid, signal.SIGINT)
        try:
            _out, err = watch.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(watch.pid, signal.SIGKILL)
            _out, err = watch.communicate()
    assert watch.returncode == 130, err
    assert "Traceback" not in err, err
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
