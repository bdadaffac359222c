"""CONSOLE:VNC: a VNC server on the VM's private UNIX socket, captured and typed into by a
real VNC client (vncdotool). (A TCP port with a password: tests/e2e/test_security_e2e.py.)"""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
from PIL import Image

from support.rows import list_rows


def _vncdo_capture(server: str, target: Path) -> None:
    vncdo = Path(sys.executable).with_name("vncdo")
    subprocess.run(
        [str(vncdo), "-s", server, "capture", str(target)],
        check=True,
        timeout=30,
        capture_output=True,
    )


def test_vnc_console_is_private_and_shows_the_guest_screen(
    ctys, make_vm, short_tmp, ctys_env
) -> None:
    make_vm("screen")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:screen,CONSOLE:VNC,WAIT:guest#", "-b", "1")
    assert done.returncode == 0, done.stderr
    [rundir] = Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("screen-*")
    sock = rundir / "vnc.sock"
    # No display in the test: no viewer is started, the address is printed instead.
    assert f"VNC unix:{sock}" in done.stdout

    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["LABEL"] == "screen"
    assert row["VNC"] == f"unix:{sock}"
    attach = ctys("-t", "QEMU", "-a", "CREATE=l:screen,CONSOLE:VNC,CONNECT")
    assert attach.returncode == 0 and attach.stdout.strip() == f"screen: VNC unix:{sock}"

    # No TCP port at all: the socket sits in the VM's 0700 folder, for its owner only.
    qemu = psutil.Process(int(row["PID"]))
    assert [c for c in qemu.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN] == []
    assert stat.S_ISSOCK(sock.lstat().st_mode)
    assert stat.S_IMODE(rundir.stat().st_mode) == 0o700
    assert not (rundir / "vnc.pass").exists()  # nobody else can reach it: no password

    # The guest prints on its VGA console too (console=tty0): the screen is not blank.
    shot = short_tmp / "screen.png"
    deadline = time.monotonic() + 20
    while True:
        _vncdo_capture(str(sock), shot)
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
            str(sock),  # vncdotool opens a server name that is an existing path as a socket
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
            # QEMU drops the keys still queued when a client leaves: stay a moment.
            "pause",
            "1",
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
