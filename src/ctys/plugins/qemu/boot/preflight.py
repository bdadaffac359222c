"""Checks made before qemu is started, so a bad request fails with one clear line."""

from __future__ import annotations

from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec, KernelSpec
from ctys.plugins.qemu.boot.disks import check_disk_options
from ctys.plugins.qemu.boot.pxe import check_pxe
from ctys.plugins.qemu.vmconfig import VmConfig


def _need_file(path: Path, what: str, vm: VmConfig) -> None:
    if path.is_dir():
        raise VmError(f"{what} {path} of VM {vm.label} is a directory, not an image file")
    if not path.exists():
        raise VmError(f"{what} {path} of VM {vm.label} does not exist")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise VmError(f"{what} {path} of VM {vm.label} is not readable: {exc.strerror}") from exc


def check_media(vm: VmConfig, boot: BootSpec | None, kernel: KernelSpec | None) -> None:
    """Every image this boot will open exists and is a readable file."""
    mode = boot.mode if boot else None
    override = boot.path if boot else None
    check_pxe(vm, boot)
    disks = list(vm.hdd)
    if override and mode in (BootMode.HDD, BootMode.VHDD, BootMode.USB):
        disks = [override, *disks[1:]]
    for disk in disks:
        _need_file(disk, "disk image", vm)
    check_disk_options(vm, len(disks))
    cdrom = override if override and mode in (BootMode.CD, BootMode.DVD) else vm.cdrom
    if cdrom is not None:
        _need_file(cdrom, "ISO image", vm)
    fdd = override if override and mode is BootMode.FDD else vm.fdd
    if fdd is not None:
        _need_file(fdd, "floppy image", vm)
    k = kernel.kernel if kernel else vm.kernel
    if kernel is None and mode is BootMode.KERNEL:
        k = override or vm.kernel
        if k is None:
            raise VmError(
                f"VM {vm.label}: BOOTMODE:KERNEL but no kernel: set KERNELIMAGE in"
                f" {vm.conf_path} or give BOOTMODE:KERNEL%/path/to/kernel"
            )
    if k is not None:
        _need_file(k, "kernel", vm)
    initrd = (kernel.initrd if kernel else None) or (vm.initrd if kernel is None else None)
    if initrd is not None:
        _need_file(initrd, "initrd", vm)
    if not disks and cdrom is None and fdd is None and k is None and mode is not BootMode.PXE:
        raise VmError(
            f"VM {vm.label} ({vm.conf_path}) has nothing to boot: no HDD, CDROM, FDD or KERNEL"
        )
