"""ctys-createConfVM + CREATE with INSTMODE:...%INIT against the real tiny guest (TCG).
The guest's initramfs carries the IDE/SCSI disk and CD-ROM drivers
(ctys.plugins.qemu.images.build)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ctys.consoles.serial import SerialConsole
from ctys.plugins.qemu.images.build import GuestImage
from support.cli import Ctys

PROMPT = "guest#"
MIB = 1024**2


def _qemu_img_info(path: Path) -> dict[str, object]:
    # -U: the image is open in the running VM
    done = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(done.stdout)
    assert isinstance(info, dict)
    return info


def _answer(console: SerialConsole, pattern: bytes) -> bytes:
    match = re.search(pattern, console.read_until(re.compile(pattern)))
    assert match is not None
    return match.group(1).strip()


def test_createconfvm_then_install_boot_with_init(
    ctys: Ctys, ctys_env: dict[str, str], guest: GuestImage, tmp_path: Path
) -> None:
    vms = Path(ctys_env["CTYS_VMPATH"])
    made = subprocess.run(
        [
            str(Path(sys.executable).parent / "ctys-createConfVM"),
            "--label", "inst", "--disk-size", "32M", "--mem", "256", "--accel", "TCG",
            "--kernel", str(guest.kernel), "--initrd", str(guest.initrd),
            "--append", "console=ttyS0 panic=-1", "--json",
        ],
        env=ctys_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["conf"] == str(vms / "inst" / "inst.conf")
    disk = Path(created["disk"])
    assert _qemu_img_info(disk)["virtual-size"] == 32 * MIB

    # Old contents the INIT must wipe: a pattern at the start of the disk.
    subprocess.run(["qemu-io", "-c", "write -P 0xab 0 64k", str(disk)], check=True)
    old_inode = disk.stat().st_ino
    # The installer "CD": any file serves as a raw CD image for the guest to see as sr0.
    iso = tmp_path / "installer.iso"
    iso.write_bytes(b"CTYS-INSTALLER".ljust(2 * MIB, b"\0"))

    done = ctys(
        "-t", "QEMU", "-a", f"CREATE=l:inst,INSTMODE:CD%{iso}%HDD%%INIT,WAIT:{PROMPT}", "-b", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("inst: started (pid ")

    # The target was replaced by a fresh image of the conf's size (#@#HDDSIZE = 32M).
    assert disk.stat().st_ino != old_inode
    info = _qemu_img_info(disk)
    assert (info["virtual-size"], info["format"]) == (32 * MIB, "qcow2")
    assert not list(disk.parent.glob(".*init-*"))

    [rundir] = list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("inst-*"))
    note = json.loads((rundir / "instmode.json").read_text())
    assert note == {
        "action": "INIT",
        "source_mode": "CD",
        "source": str(iso),
        "target_mode": "HDD",
        "target": str(disk),
    }
    argv = json.loads((rundir / "state.json").read_text())["argv"]
    assert argv[argv.index("-boot") + 1] == "once=d"

    with SerialConsole(rundir / "console.sock", timeout=30) as console:
        # Markers are typed split by '' so the echo of the typed line never matches them.
        console.send_line("echo B''LK: $(ls /sys/block) :E''ND")
        devices = _answer(console, rb"BLK: ([^\n]*) :END").split()
        # ctys-createConfVM writes #@#DISKIF = virtio: the target is a virtio disk.
        assert b"vda" in devices and b"sr0" in devices, devices
        # The guest's disk is the fresh target: 32M of 512-byte sectors, reading as zeros.
        console.send_line(
            "echo S''IZE=$(cat /sys/block/vda/size) $(od -An -tx1 -N4 /dev/vda) :E''ND"
        )
        assert _answer(console, rb"SIZE=([^\n]*) :END").split() == [b"65536", *[b"00"] * 4]
        # The installer medium is the CD; the mode is on the kernel command line.
        console.send_line(
            "echo C''D=$(head -c 14 /dev/sr0) $(grep -o 'ctys.instmode=[^ ]*' /proc/cmdline) :E''ND"
        )
        assert _answer(console, rb"CD=([^\n]*) :END") == b"CTYS-INSTALLER ctys.instmode=INIT"

    cancel = ctys("-t", "QEMU", "-a", "CANCEL=l:inst,TIMEOUT:20")
    assert cancel.returncode == 0, cancel.stderr
    assert not rundir.exists()


def test_instmode_on_a_running_vm_is_refused_and_keeps_the_disk(
    ctys: Ctys, ctys_env: dict[str, str], guest: GuestImage, tmp_path: Path
) -> None:
    made = subprocess.run(
        [
            str(Path(sys.executable).parent / "ctys-createConfVM"),
            "--label", "busy", "--disk-size", "8M", "--accel", "TCG", "--mem", "256",
            "--kernel", str(guest.kernel), "--initrd", str(guest.initrd),
            "--append", "console=ttyS0 panic=-1",
        ],
        env=ctys_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    disk = Path(ctys_env["CTYS_VMPATH"]) / "busy" / "busy.qcow2"
    assert ctys("-t", "QEMU", "-a", "CREATE=l:busy", "-b", "1").returncode == 0
    inode = disk.stat().st_ino
    iso = tmp_path / "i.iso"
    iso.write_bytes(b"\0" * 4096)
    again = ctys("-t", "QEMU", "-a", f"CREATE=l:busy,INSTMODE:CD%{iso}%HDD%%INIT", "-b", "1")
    assert again.returncode == 1
    assert "already running" in again.stderr
    assert disk.stat().st_ino == inode  # INIT runs only under the start lock, after the check
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:busy,FORCE").returncode == 0
