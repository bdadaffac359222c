"""INFO=<address>: everything ctys knows of one VM, gathered into ``VmDetails``.

The address is resolved as CANCEL and CONNECT resolve it (``find_running``: the runtime
records of running VMs, then the inventory, then a scan). The runtime section exists
while the VM runs; its logs are there either way (``vmlogs``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ctys.address.model import MachineSelector
from ctys.address.vmid import vm_id
from ctys.errors import CtysError
from ctys.plugins.qemu.actions.diskinfo import DiskInfo, disks_info
from ctys.plugins.qemu.actions.find_running import RunningVm, find_running, foreign_instance
from ctys.plugins.qemu.actions.vmlogs import LogTail, vm_logs
from ctys.plugins.qemu.vm.processes import QemuProcess
from ctys.plugins.qemu.vm.runtime import RuntimeDir
from ctys.plugins.qemu.vmconfig import VmConfig

_CPU_SAMPLE = 0.2  # seconds over which the CPU use of the qemu process is measured


@dataclass(frozen=True)
class VmDetails:
    """One VM's sections, each a mapping (or rows) ready for a table or JSON."""

    label: str
    vmid: str
    state: str  # running | shut off | running (not ctys')
    conf: dict[str, object]
    disks: list[DiskInfo]
    nics: list[dict[str, object]]
    consoles: dict[str, object]
    runtime: dict[str, object] | None
    inventory: list[dict[str, object]] = field(default_factory=list)
    logs: list[LogTail] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The whole VM as JSON data."""
        return {
            "label": self.label,
            "vmid": self.vmid,
            "state": self.state,
            "conf": self.conf,
            "disks": [d.as_dict() for d in self.disks],
            "nics": self.nics,
            "consoles": self.consoles,
            "runtime": self.runtime,
            "inventory": self.inventory,
            "logs": [t.as_dict() for t in self.logs],
        }


def conf_section(vm: VmConfig | None, conf_path: str | None) -> dict[str, object]:
    """The conf file and what it asks for."""
    if vm is None:
        return {"path": conf_path, "readable": False}
    return {
        "path": str(vm.conf_path),
        "uuid": vm.uuid,
        "arch": vm.arch,
        "accelerator": vm.accelerator.value,
        "vcpus": vm.vcpu,
        "memory_mb": vm.memsize_mb,
        "machine": vm.machine,
        "os": vm.os,
        "dist": vm.dist,
    }


def nic_rows(vm: VmConfig | None) -> list[dict[str, object]]:
    """One row per address of the conf (MAC<n>/IP<n>), else its one MAC and IP."""
    if vm is None:
        return []
    if vm.addresses:
        return [
            {"nic": a.nic, "mac": a.mac or None, "ip": a.ip or None, "ifname": a.ifname or None}
            for a in vm.addresses
        ]
    if vm.mac or vm.ip:
        return [{"nic": 0, "mac": vm.mac, "ip": vm.ip, "ifname": None}]
    return []


def runtime_section(running: RunningVm, *, now: float | None = None) -> dict[str, object]:
    """Pid, accelerator, sockets, VNC, uptime and CPU/memory use of a running VM."""
    from ctys.plugins.qemu.vncaddr import record_vnc

    record = running.record
    vnc = record_vnc(record)
    section: dict[str, object] = {
        "pid": running.pid,
        "accelerator": (record.accelerator or "").lower() or None,
        "binary": record.binary or None,
        "qmp": str(running.rundir.qmp),
        "vnc": str(vnc) if vnc else None,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started))
        if record.started
        else None,
    }
    section.update(process_usage(running.pid, record.started, now=now))
    return section


def foreign_runtime(proc: QemuProcess) -> dict[str, object]:
    """What the command line of a qemu ctys did not start tells, and its usage."""
    cmd = proc.cmdline
    section: dict[str, object] = {
        "pid": proc.pid,
        "accelerator": cmd.accelerator,
        "binary": cmd.binary or None,
        "qmp": cmd.qmp_socket,
        "vnc": None,
        "started": None,
    }
    section.update(process_usage(proc.pid))
    return section


def process_usage(pid: int, started: float = 0.0, *, now: float | None = None) -> dict[str, object]:
    """Uptime (seconds), CPU use (percent of one CPU) and resident memory (bytes) of
    ``pid``; empty values when the process is gone."""
    try:
        proc = psutil.Process(pid)
        begin = started or proc.create_time()
        cpu = proc.cpu_percent(interval=_CPU_SAMPLE)
        rss = proc.memory_info().rss
    except (psutil.Error, OSError):
        return {"uptime_s": None, "cpu_percent": None, "rss_bytes": None}
    return {
        "uptime_s": int((now or time.time()) - begin),
        "cpu_percent": round(cpu, 1),
        "rss_bytes": rss,
    }


def console_section(running: RunningVm | None, vmdir_path: Path | None) -> dict[str, object]:
    """The console mode and its socket and log (the log also once the VM stopped)."""
    if running is None:
        return {"mode": None, "socket": None}
    rundir = running.rundir
    return {
        "mode": running.record.console or None,
        "socket": str(rundir.console) if rundir.console.exists() else None,
        "log": str(rundir.console_log) if rundir.console_log.exists() else None,
    }


def inventory_rows(
    inventory: Path | None, vm: VmConfig | None, label: str
) -> list[dict[str, object]]:
    """The VM's inventory records, one per host (and address) that knows it."""
    if inventory is None or not inventory.is_file():
        return []
    from ctys.inventory.store import Inventory

    try:
        with Inventory.open_readonly(inventory) as inv:
            found = inv.find(pname=str(vm.conf_path)) if vm is not None else inv.find(label=label)
    except CtysError:
        return []
    return [
        {
            "host": r.host,
            "label": r.label,
            "id": r.pname,
            "mac": r.mac,
            "ip": r.tcp,
            "vmstate": r.vmstate,
        }
        for r in found
        if r.stype.upper() in ("", "QEMU")
    ]


def vm_details(
    runtime: RuntimeDir,
    selector: MachineSelector,
    inventory: Path | None,
    *,
    log_lines: int,
) -> VmDetails:
    """The details of the one VM ``selector`` names (``AddressError`` when none or several)."""
    running, vm = find_running(runtime, selector, inventory)
    if vm is None and running is not None:
        from ctys.plugins.qemu.confs.mapping import vm_config_or_none

        vm = vm_config_or_none(Path(running.record.conf))
    label = running.record.label if running else vm.label if vm else str(selector)
    conf_path = running.record.conf if running else str(vm.conf_path) if vm else None
    vmid = running.rundir.vmid if running else vm_id(vm.label, vm.conf_path) if vm else label
    state = "running" if running else "shut off"
    runtime_facts = runtime_section(running) if running else None
    foreign = foreign_instance(vm) if running is None and vm is not None else None
    if foreign is not None:
        state = "running (not started by ctys)"
        runtime_facts = foreign_runtime(foreign)
    disks = disks_info(list(vm.hdd)) if vm is not None else []
    live = running.rundir.path if running else runtime.vm(vmid).path
    return VmDetails(
        label=label,
        vmid=vmid,
        state=state,
        conf=conf_section(vm, conf_path),
        disks=disks,
        nics=nic_rows(vm),
        consoles=console_section(running, live),
        runtime=runtime_facts,
        inventory=inventory_rows(inventory, vm, label),
        logs=vm_logs(vmid, live, log_lines),
    )
