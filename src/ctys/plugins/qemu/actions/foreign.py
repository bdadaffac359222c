"""QEMU processes of ours (same uid) that ctys did not start: found by label or ``VMID:PID``
for CANCEL, stopped on a ``VmHandle.attach_foreign`` (the managed VMs' stop ladder) through
the QMP socket their command line names, their human monitor, else by signal."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from ctys.address.match import VmFacts, all_match
from ctys.address.model import MachineSelector
from ctys.plugins.qemu.vm.processes import QemuProcess, process_uid, scan_qemu_processes
from ctys.plugins.qemu.vmconfig import VmConfig


@dataclass(frozen=True)
class ForeignVm:
    """A qemu of this user that has no ctys runtime record."""

    proc: QemuProcess
    label: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def qmp(self) -> Path | None:
        """Its QMP socket when the command line names a UNIX one that exists."""
        path = self.proc.cmdline.qmp_socket
        return Path(path) if path and Path(path).exists() else None

    @property
    def hmp(self) -> Path | None:
        """Its human monitor socket (``-monitor unix:PATH``), when it has no QMP one."""
        from ctys.plugins.qemu.vm.hmp import hmp_socket

        return hmp_socket(self.proc.cmdline)

    def facts(self, conf: VmConfig | None = None) -> VmFacts:
        """What an address can match: the label LIST shows, the ``-uuid``, the pid as
        ``ID`` (and the conf's MAC/IP when it is known)."""
        cmd = self.proc.cmdline
        return VmFacts(
            label=self.label,
            conf=str(conf.conf_path) if conf else "",
            uuid=cmd.uuid or (conf.uuid if conf else None),
            mac=conf.mac if conf else None,
            ip=conf.ip if conf else None,
            vmid=str(self.pid),
        )


def _label(proc: QemuProcess) -> str:
    # As LIST names it without a conf: -name, else the boot image's file name.
    cmd = proc.cmdline
    image = cmd.image
    return cmd.name or (PurePath(image).stem if image else "")


def _is_ours(pid: int) -> bool:
    return process_uid(pid) == os.getuid()


@dataclass(frozen=True)
class ForeignScan:
    """Qemus no runtime record claims: this user's (``ours``) and how many are others'."""

    ours: tuple[ForeignVm, ...]
    others: int


def foreign_vms(claimed: set[int], processes: Sequence[QemuProcess] | None = None) -> ForeignScan:
    """The qemus not in ``claimed`` (pids of managed VMs), split by owner."""
    procs = processes if processes is not None else scan_qemu_processes()
    ours: list[ForeignVm] = []
    others = 0
    for proc in procs:
        if proc.pid in claimed:
            continue
        if _is_ours(proc.pid):
            ours.append(ForeignVm(proc, _label(proc)))
        else:
            others += 1
    return ForeignScan(tuple(ours), others)


def foreign_matching(vms: Sequence[ForeignVm], selector: MachineSelector) -> list[ForeignVm]:
    """The foreign VMs matching every term (label, UUID, ``VMID:PID``)."""
    return [vm for vm in vms if all_match(vm.facts(), selector.terms)]
