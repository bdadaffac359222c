"""How a VM's hard disks are attached: ``#@#DISKIF``, ``#@#DISKCACHE``, ``#@#DISKDISCARD``.

Each key may carry a disk number (``DISKIF0`` is the boot disk ``HDD``, ``DISKIF1`` the
next, ``HDD_B``, ...); without one it is the default of every disk. A conf without
``DISKIF`` keeps the original's IDE disks (``-hda``: the guest sees ``/dev/sda``), so
existing guests keep their root device; ``ctys-createConfVM`` writes ``virtio``.

- ``ide``: ``if=ide``; ``virtio``: ``if=virtio`` (virtio-blk, ``/dev/vda``);
- ``scsi``: a virtio-scsi controller and ``scsi-hd`` disks (``/dev/sda``);
- ``sata``: an AHCI controller and ``ide-hd`` disks; ``nvme``: an NVMe controller per disk.

``DISKCACHE`` is qemu's ``cache=`` (writeback, writethrough, none, directsync, unsafe);
``DISKDISCARD`` ``unmap`` (also on/yes) passes the guest's TRIM to the image, ``ignore``
(off/no) drops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.boot.confkeys import conf_value
from ctys.plugins.qemu.vmconfig import VmConfig

INTERFACES = ("ide", "virtio", "scsi", "sata", "nvme")
CACHE_MODES = ("writeback", "writethrough", "none", "directsync", "unsafe")
_DISCARD = {"UNMAP": "unmap", "ON": "unmap", "YES": "unmap", "IGNORE": "ignore",
            "OFF": "ignore", "NO": "ignore"}  # fmt: skip
_SCSI_ID = "ctysscsi"
_AHCI_ID = "ctysahci"
_AHCI_PORTS = 6


@dataclass(frozen=True)
class DiskOptions:
    """How one disk is attached; ``None`` everywhere is qemu's default (IDE)."""

    interface: str | None = None
    cache: str | None = None
    discard: str | None = None


def _lookup(vm: VmConfig, key: str, index: int) -> tuple[str, str] | None:
    found = conf_value(vm, f"{key}{index}") or conf_value(vm, key)
    return None if found is None else (found.name, found.text)


def disk_options(vm: VmConfig, index: int) -> DiskOptions:
    """The options of disk ``index`` (0 = the boot disk); a bad value is a ``VmError``
    naming the conf and the key."""
    where = vm.conf_path
    interface = cache = discard = None
    if (found := _lookup(vm, "DISKIF", index)) is not None:
        interface = found[1].lower()
        if interface not in INTERFACES:
            known = ", ".join(INTERFACES)
            raise VmError(f"{where}: {found[0]}: unknown disk interface '{found[1]}' ({known})")
    if (found := _lookup(vm, "DISKCACHE", index)) is not None:
        cache = found[1].lower()
        if cache not in CACHE_MODES:
            raise VmError(
                f"{where}: {found[0]}: unknown cache mode '{found[1]}' ({', '.join(CACHE_MODES)})"
            )
    if (found := _lookup(vm, "DISKDISCARD", index)) is not None:
        discard = _DISCARD.get(found[1].upper())
        if discard is None:
            raise VmError(f"{where}: {found[0]}: '{found[1]}' is not unmap or ignore")
    return DiskOptions(interface, cache, discard)


def check_disk_options(vm: VmConfig, count: int) -> None:
    """Every disk's options are valid, and the SATA disks fit the AHCI controller."""
    options = [disk_options(vm, index) for index in range(count)]
    if sum(o.interface == "sata" for o in options) > _AHCI_PORTS:
        raise VmError(f"{vm.conf_path}: at most {_AHCI_PORTS} disks with DISKIF sata")


def _escape(value: str) -> str:
    return value.replace(",", ",,")


def _format(path: Path) -> str | None:
    from ctys.plugins.qemu.boot.argv import disk_format  # argv imports this module

    return disk_format(path)


def disk_groups(vm: VmConfig, disks: tuple[Path, ...]) -> tuple[list[str], list[list[str]]]:
    """The controllers the disks need (to go before them), and each disk's arguments."""
    controllers: list[str] = []
    groups: list[list[str]] = []
    sata_port = 0
    for index, path in enumerate(disks):
        opts = disk_options(vm, index)
        fmt = _format(path)
        tail = [f"format={fmt}"] if fmt else []
        tail += [f"cache={opts.cache}"] if opts.cache else []
        tail += [f"discard={opts.discard}"] if opts.discard else []
        file = f"file={_escape(str(path))}"
        if opts.interface in (None, "ide", "virtio"):
            bus = [f"if={opts.interface}"] if opts.interface else []
            drive = ",".join([file, *bus, f"index={index}", "media=disk", *tail])
            groups.append(["-drive", drive])
            continue
        node = f"ctysdisk{index}"
        drive = ",".join([file, "if=none", f"id={node}", *tail])
        if opts.interface == "scsi":
            if not controllers.count(f"virtio-scsi-pci,id={_SCSI_ID}"):
                controllers += ["-device", f"virtio-scsi-pci,id={_SCSI_ID}"]
            device = f"scsi-hd,drive={node},bus={_SCSI_ID}.0"
        elif opts.interface == "sata":
            if not controllers.count(f"ahci,id={_AHCI_ID}"):
                controllers += ["-device", f"ahci,id={_AHCI_ID}"]
            device = f"ide-hd,drive={node},bus={_AHCI_ID}.{sata_port}"
            sata_port += 1
        else:
            device = f"nvme,drive={node},serial={node}"
        groups.append(["-drive", drive, "-device", device])
    return controllers, groups
