"""Is a VM already running? Checked from our runtime records and the process table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ctys.address.match import all_match, facts_of_record, same_file, under_any
from ctys.address.model import AmbiguousAddress, MachineSelector
from ctys.address.vmid import vm_id
from ctys.plugins.qemu.confs.reader import resolve_vm
from ctys.plugins.qemu.vm.processes import QemuProcess, scan_qemu_processes
from ctys.plugins.qemu.vm.runtime import (
    EntryState,
    RuntimeDir,
    RuntimeRecord,
    VmEntry,
    VmRuntimeDir,
    inspect_vm,
    scan_runtime,
)
from ctys.plugins.qemu.vmconfig import VmConfig


@dataclass(frozen=True)
class RunningVm:
    """A managed VM of ours that is alive."""

    rundir: VmRuntimeDir
    record: RuntimeRecord
    pid: int


def managed_instance(runtime: RuntimeDir, vmid: str) -> RunningVm | None:
    """Our living instance of ``vmid`` (``vm.runtime.inspect_vm``'s rule: a stale folder
    of a dead VM is removed)."""
    rundir = runtime.vm(vmid)
    if not rundir.path.exists():
        return None
    return _running(inspect_vm(runtime, rundir))


def _running(entry: VmEntry) -> RunningVm | None:
    if entry.state is not EntryState.RUNNING or entry.record is None or entry.pid is None:
        return None
    return RunningVm(entry.rundir, entry.record, entry.pid)


def foreign_instance(
    vm: VmConfig, processes: list[QemuProcess] | None = None
) -> QemuProcess | None:
    """A qemu not started by us (another user, another tool) running this VM: same UUID,
    or the same boot disk."""
    disks = {str(d) for d in vm.hdd}
    if not vm.uuid and not disks:
        return None  # nothing a qemu's argv could share with it: no /proc scan
    procs = processes if processes is not None else scan_qemu_processes()
    for proc in procs:
        cmd = proc.cmdline
        if vm.uuid and cmd.uuid and cmd.uuid.lower() == vm.uuid.lower():
            return proc
        if disks and any(d.file in disks for d in cmd.drives):
            return proc
    return None


def managed_for_vm(runtime: RuntimeDir, vm: VmConfig) -> RunningVm | None:
    """Our living instance of ``vm``: by its ID, else the running VM started from the same
    conf file (its label may have been edited since) or with the same UUID."""
    running = managed_instance(runtime, vm_id(vm.label, vm.conf_path))
    if running is not None:
        return running
    uuid = vm.uuid.lower() if vm.uuid else None
    for other in running_vms(runtime):
        record = other.record
        if same_file(record.conf, str(vm.conf_path)):
            return other
        if uuid is not None and record.uuid is not None and record.uuid.lower() == uuid:
            return other
    return None


def running_vms(runtime: RuntimeDir) -> list[RunningVm]:
    """Every living managed VM of ours (stale folders are removed on the way)."""
    found = (_running(entry) for entry in scan_runtime(runtime))
    return [r for r in found if r is not None]


def running_matching(runtime: RuntimeDir, selector: MachineSelector) -> list[RunningVm]:
    """The running managed VMs whose runtime record matches every term of ``selector``
    (label, UUID, MAC, IP and conf path as they were when the VM started, and its ID);
    with ``BASEPATH:``, only those whose conf lies under one of the folders."""
    found = []
    for running in running_vms(runtime):
        record = running.record
        if selector.base_paths and not under_any(record.conf, selector.base_paths):
            continue
        if all_match(facts_of_record(record), selector.terms):
            found.append(running)
    return found


def find_running(
    runtime: RuntimeDir,
    selector: MachineSelector,
    inventory: Path | None,
    err: TextIO | None = None,
) -> tuple[RunningVm | None, VmConfig | None]:
    """The running VM an address names, for CANCEL and CONNECT/REUSE: the runtime records
    of running VMs first (they know VMs whose conf is outside the VM folders, was added
    after the last ENUMERATE or was edited since the start), then the inventory, then a
    scan. Returns the running VM (``None`` when it does not run) and the conf resolved
    (``None`` when a record answered). ``AddressError`` when nothing or several match."""
    matched = running_matching(runtime, selector)
    if len(matched) > 1:
        listing = "; ".join(f"{r.record.label} ({r.record.conf}, pid {r.pid})" for r in matched)
        raise AmbiguousAddress(
            f"{selector} is ambiguous, {len(matched)} running VMs match: {listing}",
            tuple(dict.fromkeys(f"P:{r.record.conf}" for r in matched)),
        )
    if matched:
        return matched[0], None
    vm = resolve_vm(selector, inventory, err=err)
    return managed_for_vm(runtime, vm), vm
