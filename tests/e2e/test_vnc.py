"""CONSOLE:VNC: a VNC server on 127.0.0.1, captured by a real VNC client (vncdotool)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
from PIL import Image
from qemus import list_rows


def _vncdo_capture(port: int, target: Path) -> None:
    vncdo = Path(sys.executable).with_name("vncdo")
    subprocess.run(
        [str(vncdo), "-s", f"127.0.0.1::{port}", "capture", str(target)],
        check=True,
        timeout=30,
        capture_output=True,
    )


def test_vnc_console_is_local_and_shows_the_guest_screen(
    ctys, make_vm, short_tmp, ctys_env
) -> None:
    make_vm("screen")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:screen,CONSOLE:VNC,WAIT:guest#", "-b", "1")
    assert done.returncode == 0, done.stderr
    # No display in the test: no viewer is started, the address is printed instead.
    assert "VNC 127.0.0.1:59" in done.stdout

    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["LABEL"] == "screen"
    host, port = str(row["VNC"]).rsplit(":", 1)
    assert host == "127.0.0.1"

    # The VNC server listens on loopback only.
    listening = [
        c
        for c in psutil.Process(int(row["PID"])).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    ]
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
    assert int(port) in {c.laddr.port for c in listening}

    # The guest prints on its VGA console too (console=tty0): the screen is not blank.
    shot = short_tmp / "screen.png"
    deadline = time.monotonic() + 20
    while True:
        _vncdo_capture(int(port), shot)
        image = Image.open(shot).convert("L")
        histogram = image.histogram()
        lit = sum(histogram[65:])
        if lit > 500 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert image.size[0] >= 640
    assert lit > 500, f"screen looks blank ({lit} lit pixels)"

    # Keys typed through VNC reach the shell on the VGA console (tty1): dd copies the next
    # typed line to the serial port, where the console log records it. (Only characters
    # typed without Shift: QEMU's VNC keymap drops the modifier for some symbols.)
    vncdo = Path(sys.executable).with_name("vncdo")
    subprocess.run(
        [
            str(vncdo),
            "-s",
            f"127.0.0.1::{port}",
            "type",
            "dd of=/dev/ttyS0 count=1",
            "key",
            "enter",
            "pause",
            "0.5",
            "type",
            "vnc-typed-42",
            "key",
            "enter",
        ],
        check=True,
        timeout=30,
        capture_output=True,
    )
    [log] = Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("screen-*/console.log")
    deadline = time.monotonic() + 20
    while b"vnc-typed-42" not in log.read_bytes():
        assert time.monotonic() < deadline, log.read_bytes()[-300:]
        time.sleep(0.2)

    assert ctys("-t", "QEMU", "-a", "CANCEL=l:screen,FORCE").returncode == 0
