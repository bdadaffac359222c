"""ctys-createConfVM's files are data ctys reads back: a 01.11 folder written with the
original's options (``-t QEMU -D DIR -C --layout 01.11``) is found by ENUMERATE, booted
through the ``NAME.sh`` it wrote (which calls ctys, so the VM is managed: LIST, CANCEL), and
booted by ``CREATE=…,WRAPPER`` without the wrapper calling ctys back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ctys.plugins.qemu.demo.demovm import kernel_append
from ctys.plugins.qemu.images.build import GuestImage
from support.rows import list_rows


def _create_conf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "ctys-createConfVM"
    return subprocess.run(
        [str(tool), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _wait_running(ctys, runtime: str, label: str, timeout: float = 60) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = list_rows(ctys, runtime)
        if [(r["LABEL"], r["STATE"]) for r in rows] == [(label, "running")]:
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.5)


def _console_shows(runtime: str, text: str, timeout: float = 90) -> None:
    logs = list(Path(runtime).glob("vms/*/console.log"))
    deadline = time.monotonic() + timeout
    while not any(text in log.read_text(errors="replace") for log in logs):
        assert time.monotonic() < deadline, f"no {text!r} on the console"
        time.sleep(0.5)
        logs = list(Path(runtime).glob("vms/*/console.log"))


def test_a_0111_folder_written_by_createconfvm_round_trips(
    ctys, guest: GuestImage, ctys_env: dict[str, str]
) -> None:
    env = {**ctys_env, "MEMSIZE": "256", "ACCELERATOR": "QEMU", "DIST": "Busy Box"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    folder = Path(ctys_env["CTYS_VMPATH"]) / "nc1"
    made = _create_conf(
        env, "-t", "QEMU", "-D", str(folder), "-C", "--layout", "01.11", "--no-create-image",
        "--kernel", str(guest.kernel), "--initrd", str(guest.initrd),
        "--append", kernel_append(), "--disk-size", "0",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    conf, script = folder / "nc1.ctys", folder / "nc1.sh"
    assert made.stdout.strip() == str(conf)
    assert sorted(p.name for p in folder.iterdir()) == ["nc1.ctys", "nc1.sh"]
    text = conf.read_text()  # the presets from the original's variables
    assert "#@#ACCELERATOR = TCG\n" in text and "#@#MEMSIZE = 256\n" in text

    listed = ctys("-t", "QEMU", "-a", "ENUMERATE=MACHINE", "-o", "LABEL,PNAME,DIST,MODE")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [f"nc1;{conf};Busy_Box;sh+ctys"]

    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    # The original's way: run the wrapper with the wrapper interface; it runs ctys.
    check = subprocess.run([str(script), "--console=CLI", "--check"], env=env, check=False)
    assert check.returncode == 0
    booted = subprocess.run(
        [str(script), "--console=CLI", "--vncaccessdisplay=9"],
        env=env, capture_output=True, text=True, timeout=90, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert booted.returncode == 0, booted.stderr
    assert booted.stdout.startswith("nc1: started (pid ")
    rows = _wait_running(ctys, runtime, "nc1")
    assert str(rows[0]["ACCEL"]).upper() == "TCG"
    _console_shows(runtime, "guest#")
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:nc1").returncode == 0
    assert list_rows(ctys, runtime) == []

    # CREATE=…,WRAPPER on a ctys-written wrapper boots from the conf (the wrapper would
    # call ctys back and wait for this CREATE's own start lock).
    again = ctys("-t", "QEMU", "-a", "CREATE=l:nc1,WRAPPER,CONSOLE:CLI", "-b", "1", timeout=90)
    assert again.returncode == 0, again.stderr
    assert "started by its wrapper" not in again.stdout
    _wait_running(ctys, runtime, "nc1")
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:nc1").returncode == 0
