"""Is a VM already running? Checked from our runtime records and the process table."""

from __future__ import annotations

from dataclasses import dataclass

from ctys.conf.model import VmConfig
from ctys.qemu.processes import QemuProcess, is_alive_qemu, scan_qemu_processes
from ctys.qemu.runtime import RuntimeDir, RuntimeRecord, VmRuntimeDir, vm_id


@dataclass(frozen=True)
class RunningVm:
    """A managed VM of ours that is alive."""

    rundir: VmRuntimeDir
    record: RuntimeRecord
    pid: int


def managed_instance(runtime: RuntimeDir, vmid: str) -> RunningVm | None:
    """Our living instance of ``vmid``; a stale folder of a dead VM is removed."""
    rundir = runtime.vm(vmid)
    if not rundir.path.exists():
        return None
    record = rundir.read_record()
    pid = (record.pid if record else None) or rundir.read_pid()
    if record is not None and pid is not None and is_alive_qemu(pid, rundir.path):
        return RunningVm(rundir, record, pid)
    with runtime.try_start_lock(vmid) as free:
        # Not alive and nobody is starting it: the folder of a dead VM.
        if free:
            rundir.remove()
    return None


def foreign_instance(
    vm: VmConfig, processes: list[QemuProcess] | None = None
) -> QemuProcess | None:
    """A qemu not started by us (another user, another tool) running this VM: same UUID,
    or the same boot disk."""
    procs = processes if processes is not None else scan_qemu_processes()
    disks = {str(d) for d in vm.hdd}
    for proc in procs:
        cmd = proc.cmdline
        if vm.uuid and cmd.uuid and cmd.uuid.lower() == vm.uuid.lower():
            return proc
        if disks and any(d.file in disks for d in cmd.drives):
            return proc
    return None


def managed_for_vm(runtime: RuntimeDir, vm: VmConfig) -> RunningVm | None:
    return managed_instance(runtime, vm_id(vm.label, vm.conf_path))
