"""QEMU's confs for the core (``ctys.plugins.base.ConfReader``): the marker they carry, the
hypervisor-neutral ``FoundVm`` of one (its ``native`` is the ``VmConfig``), the confs of
running VMs by the address their guest reported; and the way back, from what the core's
scan and address resolution return to the ``VmConfig`` the actions work on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ctys.conf.vmpath import default_base_paths
from ctys.plugins.qemu.vm import SESSION_TYPE

if TYPE_CHECKING:
    from ctys.address.model import MachineSelector
    from ctys.address.scan import Progress, ScanResult
    from ctys.conf.found import FoundVm
    from ctys.conf.parser import SourceLines
    from ctys.conf.rawconf import RawConf
    from ctys.plugins.qemu.vmconfig import VmConfig

# (The plugin class is one of these: the address modules and the conf mapping are imported
# when they are used, so a LIST or CANCEL that reads no conf does not load them.)

STYPE = SESSION_TYPE  # the plugin's name, its FoundVms' and records' STYPE
MAGIC_ID = "MAGICID-QEMU"
VM_HOME = "qemu"  # VM folders by default: ~/qemu (without $CTYS_VMPATH)


def found_of(vm: VmConfig) -> FoundVm:
    """The ``FoundVm`` of a QEMU VM: what the core matches and keeps in the inventory."""
    from ctys.conf.found import FoundVm
    from ctys.plugins.qemu.confs.details import inventory_details

    details = {
        "arch": vm.arch,
        "vcpu": str(vm.vcpu),
        "vram": str(vm.memsize_mb),
        "accelerator": vm.accelerator.value,
        "exepath": vm.qemu_binary or "",
        "vncport": "" if vm.vncport is None else str(vm.vncport),
        "dist": vm.dist or "",
        "os": vm.os or "",
        **inventory_details(vm),
    }
    return FoundVm(
        stype=STYPE,
        conf_path=vm.conf_path,
        label=vm.label,
        mode=vm.mode,
        uuid=vm.uuid,
        mac=vm.mac,
        ip=vm.ip,
        magic=vm.raw.magic if vm.raw is not None else frozenset(),
        details=details,
        addresses=vm.addresses,
        vmstate=vm.facts.vmstate,
        raw=vm.raw,
        native=vm,
    )


def vm_config_of(found: FoundVm) -> VmConfig:
    """The ``VmConfig`` of a VM the core found: the one ``describe`` made (no second
    read of the conf), else the conf mapped again."""
    from ctys.plugins.qemu.vmconfig import VmConfig

    if isinstance(found.native, VmConfig):
        return found.native
    from ctys.plugins.qemu.confs.mapping import load_vm_config, vm_config_from_raw

    if found.raw is not None:
        return vm_config_from_raw(found.raw)
    return load_vm_config(found.conf_path)


class QemuConfs:
    """The ``ConfReader`` part of the QEMU plugin (``QemuPlugin`` is one)."""

    name = STYPE
    magic_id = MAGIC_ID
    vm_home = VM_HOME

    def describe(self, raw: RawConf, lines: SourceLines | None) -> FoundVm:
        """The conf mapped to a ``VmConfig`` (``confs.mapping``), as a ``FoundVm``."""
        from ctys.plugins.qemu.confs.mapping import vm_config_from_raw

        return found_of(vm_config_from_raw(raw, lines))

    def confs_with_learned_ip(self, ip: str) -> Sequence[Path]:
        """The running managed VMs' confs whose guest has ``ip`` (``net.guestip``)."""
        from ctys.plugins.qemu.confs.mapping import load_vm_config
        from ctys.plugins.qemu.net.guestip import running_vms_with_ip
        from ctys.plugins.qemu.vm.runtime import RuntimeDir

        return running_vms_with_ip(ip, RuntimeDir(), loader=load_vm_config)


READERS: tuple[QemuConfs, ...] = (QemuConfs(),)
"""What the QEMU actions hand the core's scan and resolution: QEMU's confs only."""


def resolve_vm(
    selector: MachineSelector, inventory: Path | None = None, *, err: TextIO | None = None
) -> VmConfig:
    """The one QEMU VM an address names (``ctys.address.resolve.resolve_one``)."""
    from ctys.address.resolve import resolve_one

    return vm_config_of(resolve_one(selector, inventory, readers=READERS, err=err))


def scan_qemu_confs(
    base_paths: Sequence[Path], *, include_ignored: bool = False, progress: Progress | None = None
) -> ScanResult:
    """The QEMU confs under ``base_paths`` (``ctys.address.scan.scan_vms``); each VM's
    ``VmConfig`` is ``vm_config_of(found)``."""
    from ctys.address.scan import scan_vms

    return scan_vms(base_paths, READERS, include_ignored=include_ignored, progress=progress)


def scanned_vm_configs(base_paths: Sequence[Path]) -> list[VmConfig]:
    """The ``VmConfig`` of every active QEMU conf under ``base_paths``."""
    return [vm_config_of(found) for found in scan_qemu_confs(base_paths).vms]


class LazyConfs(Sequence["VmConfig"]):
    """``scanned_vm_configs(base_paths)``, scanned at the first look: LIST finds no VM
    running more often than not, and then needs no conf (nor the modules that read one)."""

    def __init__(self, base_paths: Sequence[Path]) -> None:
        self._base_paths = base_paths
        self._confs: list[VmConfig] | None = None
        self._alone: dict[Path, VmConfig | None] = {}

    def at(self, path: Path) -> VmConfig | None:
        """The conf at ``path``: the scan's once scanned (else the file read alone), before
        that the file read alone — so that a LIST of the VMs ctys started, whose runtime
        records name their confs, reads those and scans no folder. Each file is read once;
        None: it cannot be read (or is no conf)."""
        if self._confs is not None:
            found = next((c for c in self._confs if c.conf_path == path), None)
            if found is not None:
                return found
        if path not in self._alone:
            from ctys.plugins.qemu.confs.mapping import vm_config_or_none

            self._alone[path] = vm_config_or_none(path)
        return self._alone[path]

    def _all(self) -> list[VmConfig]:
        if self._confs is None:
            self._confs = scanned_vm_configs(self._base_paths)
        return self._confs

    def __getitem__(self, index: int) -> VmConfig:  # type: ignore[override]
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[VmConfig]:
        return iter(self._all())

    @property
    def scanned(self) -> bool:
        """Whether the folders were scanned (tests: a LIST with no VM scans none)."""
        return self._confs is not None


def qemu_base_paths() -> tuple[Path, ...]:
    """Where the QEMU plugin's VM confs live: ``$CTYS_VMPATH``, else ``~/qemu``."""
    return default_base_paths([VM_HOME])
