"""Real media under TCG: the Debian installer from an isolinux CD (BOOTMODE:CD and
INSTMODE:CD%%HDD%%INIT) and over PXE from its netboot tree (QEMU's user-mode TFTP), each
read on the serial console through the console socket; a UEFI guest booted by OVMF from
an ESP with systemd-boot (ctys.plugins.qemu.images.media builds and caches all of them)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ctys.consoles.serial import SerialConsole
from ctys.plugins.qemu.demo.demovm import kernel_append
from ctys.plugins.qemu.images.build import GuestImage
from ctys.plugins.qemu.images.media import (
    INSTALLER_MAIN_MENU,
    INSTALLER_MEMORY_MB,
    NetbootTree,
    installer_iso,
    netboot_tree,
    uefi_disk,
)
from support.cli import Ctys

# TCG: the installer's kernel and 30 MB initrd take about 40 s to its first screen here.
INSTALLER_TIMEOUT = 240.0


@pytest.fixture(scope="session")
def netboot() -> NetbootTree:
    return netboot_tree()


@pytest.fixture(scope="session")
def iso() -> Path:
    return installer_iso()


def create_conf(env: dict[str, str], label: str, *args: str) -> dict[str, str]:
    made = subprocess.run(
        [str(Path(sys.executable).parent / "ctys-createConfVM"), "--label", label,
         "--accel", "TCG", "--mem", str(INSTALLER_MEMORY_MB), "--json", *args],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert isinstance(created, dict)
    return created


def rundir_of(env: dict[str, str], label: str) -> Path:
    [rundir] = list(Path(env["CTYS_RUNTIME_DIR"], "vms").glob(f"{label}-*"))
    return rundir


def read_installer_menu(env: dict[str, str], label: str) -> bytes:
    with SerialConsole(rundir_of(env, label) / "console.sock", timeout=30) as console:
        return console.read_until(INSTALLER_MAIN_MENU.encode(), timeout=INSTALLER_TIMEOUT)


def boot(ctys: Ctys, label: str, *subopts: str) -> None:
    done = ctys("-t", "QEMU", "-a", ",".join([f"CREATE=l:{label}", *subopts]), "-b", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{label}: started (pid ")


def cancel(ctys: Ctys, label: str) -> None:
    # The installer ignores ACPI: FORCE (SIGTERM, then SIGKILL).
    done = ctys("-t", "QEMU", "-a", f"CANCEL=l:{label},FORCE,TIMEOUT:10")
    assert done.returncode == 0, done.stderr


def test_installer_cd_reaches_the_main_menu(
    ctys: Ctys, ctys_env: dict[str, str], iso: Path
) -> None:
    create_conf(ctys_env, "dicd", "--iso", str(iso), "--disk-size", "64M")
    boot(ctys, "dicd", "BOOTMODE:CD")
    read_installer_menu(ctys_env, "dicd")
    # The whole boot is in the console log: isolinux of our CD loaded the installer.
    log = (rundir_of(ctys_env, "dicd") / "console.log").read_bytes()
    assert b"ISOLINUX" in log and b"priority=low" in log
    cancel(ctys, "dicd")


def test_instmode_cd_reaches_the_main_menu(ctys: Ctys, ctys_env: dict[str, str], iso: Path) -> None:
    created = create_conf(ctys_env, "diinst", "--iso", str(iso), "--disk-size", "64M")
    boot(ctys, "diinst", "INSTMODE:CD%%HDD%%INIT")
    argv = json.loads((rundir_of(ctys_env, "diinst") / "state.json").read_text())["argv"]
    assert argv[argv.index("-boot") + 1] == "once=d"
    assert f"file={created['disk']}" in " ".join(argv)
    read_installer_menu(ctys_env, "diinst")
    cancel(ctys, "diinst")


def test_pxe_boot_of_the_installer_over_user_mode_tftp(
    ctys: Ctys, ctys_env: dict[str, str], netboot: NetbootTree
) -> None:
    create_conf(ctys_env, "dipxe", "--disk-size", "0")
    boot(ctys, "dipxe", f"BOOTMODE:PXE%{netboot.root}")
    read_installer_menu(ctys_env, "dipxe")
    log = (rundir_of(ctys_env, "dipxe") / "console.log").read_bytes()
    assert b"PXELINUX" in log and b"Loading debian-installer/amd64/linux" in log
    cancel(ctys, "dipxe")


def test_pxe_with_a_missing_boot_file_starts_nothing(
    ctys: Ctys, ctys_env: dict[str, str], netboot: NetbootTree
) -> None:
    create_conf(ctys_env, "dinone", "--disk-size", "0")
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:dinone,BOOTMODE:PXE%{netboot.root}%nope.0")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "boot file 'nope.0' is not in" in done.stderr
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"]).glob("vms/dinone-*"))


def write_uefi_vm(env: dict[str, str], label: str, guest: GuestImage, firmware: str) -> Path:
    """A VM whose only disk is a qcow2 overlay of the cached ESP disk (uefi_disk)."""
    folder = Path(env["CTYS_VMPATH"]) / label
    folder.mkdir(parents=True)
    esp = uefi_disk(guest, kernel_append())
    disk = folder / f"{label}.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(esp), "-F", "raw", str(disk)],
        check=True,
    )
    conf = folder / f"{label}.conf"
    conf.write_text(
        f"#@#MAGICID-QEMU\n#@#LABEL = {label}\n#@#FIRMWARE = {firmware}\n"
        f"#@#ACCELERATOR = TCG\n#@#MEMSIZE = 256\n#@#NETMODE = none\nHDD={disk.name}\n"
    )
    return folder


def test_uefi_guest_boots_from_its_esp(
    ctys: Ctys, ctys_env: dict[str, str], guest: GuestImage
) -> None:
    folder = write_uefi_vm(ctys_env, "efi", guest, "UEFI")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:efi,WAIT:CTYS-GUEST-READY%120", "-b", "1")
    assert done.returncode == 0, done.stderr
    varstore = folder / "efi_VARS.fd"
    assert stat.S_IMODE(varstore.stat().st_mode) == 0o600
    rundir = rundir_of(ctys_env, "efi")
    argv = json.loads((rundir / "state.json").read_text())["argv"]
    assert f"if=pflash,format=raw,unit=1,file={varstore}" in argv
    log = (rundir / "console.log").read_bytes()
    # OVMF's boot manager started the ESP's loader; the kernel came up through its EFI stub.
    assert b"BdsDxe: starting Boot" in log and b"EFI stub:" in log
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:efi,TIMEOUT:30")
    assert done.returncode == 0, done.stderr


def test_secure_boot_refuses_the_unsigned_loader(
    ctys: Ctys, ctys_env: dict[str, str], guest: GuestImage
) -> None:
    """UEFI-SECURE is enforced: OVMF with the enrolled keys will not run unsigned
    systemd-boot (q35 + SMM, the secure variable store)."""
    folder = write_uefi_vm(ctys_env, "sb", guest, "UEFI-SECURE")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:sb,WAIT:Access Denied%120", "-b", "1")
    assert done.returncode == 0, done.stderr
    assert (folder / "sb_VARS_SECURE.fd").is_file()
    assert b"CTYS-GUEST-READY" not in (rundir_of(ctys_env, "sb") / "console.log").read_bytes()
    cancel(ctys, "sb")


def test_a_disk_in_use_names_the_vm_holding_it(
    ctys: Ctys, ctys_env: dict[str, str], make_vm: Callable[..., Path], tmp_path: Path
) -> None:
    """qemu's image lock ("Failed to get "write" lock") as one ctys line naming the VM."""
    shared = tmp_path / "shared.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(shared), "8M"], check=True)
    for label in ("owner", "second"):
        conf = make_vm(label)
        conf.write_text(conf.read_text() + f"HDD={shared}\n#@#DISKIF = virtio\n")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:owner,WAIT:CTYS-GUEST-READY%60", "-b", "1")
    assert done.returncode == 0, done.stderr
    pid = json.loads((rundir_of(ctys_env, "owner") / "state.json").read_text())["pid"]
    again = ctys("-t", "QEMU", "-a", "CREATE=l:second", "-b", "1")
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1, again.stderr
    assert f"disk image {shared} is in use by VM owner (pid {pid})" in again.stderr
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"]).glob("vms/second-*"))
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:owner,TIMEOUT:20").returncode == 0
