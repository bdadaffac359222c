"""How QEMU's CREATE given no target picks its host (``Placement``): each candidate host
answers ``INFO=LOAD``; a VM that runs already is found by UUID or conf file in the
candidates' ``LIST=JSON -o ALL`` rows (this host: its runtime records, then the process
table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ctys.address.match import same_file
from ctys.invocation import ActionCall
from ctys.plugins.answers import HostLoad


def row_is_vm(row: Mapping[str, object], uuid: str, conf: str) -> bool:
    """Whether a LIST row is the VM: the same UUID, or its conf file."""
    row_uuid = str(row.get("UUID") or "").lower()
    if uuid and row_uuid == uuid.lower():
        return True
    row_conf = row.get("CONF")
    return bool(row_conf) and same_file(str(row_conf), conf)


class QemuPlacement:
    """CREATE placement for QEMU VMs."""

    load_action: str = "INFO=LOAD"
    running_args: Sequence[str] = ("-a", "LIST=JSON", "-o", "ALL")
    attach_hint: str = "use CONNECT"

    def parse_load(self, text: str) -> HostLoad:
        from ctys.plugins.qemu.actions.info import parse_load

        return parse_load(text)

    def local_load(self) -> HostLoad:
        from ctys.plugins.qemu.actions.info import host_load

        return host_load()

    def pid_in_rows(self, rows: Sequence[Mapping[str, object]], uuid: str, conf: str) -> int | None:
        """The pid of the VM among a host's LIST rows (a managed row before an unmanaged one)."""
        mine = [r for r in rows if row_is_vm(r, uuid, conf)]
        mine.sort(key=lambda r: r.get("MANAGED") is not True)
        for row in mine:
            pid = row.get("PID")
            if isinstance(pid, int):
                return pid
        return None

    def local_pid(self, uuid: str, conf: str) -> int | None:
        """The pid of the VM on this host: our runtime records, else any qemu with its UUID."""
        from ctys.plugins.qemu.actions.find_running import running_vms
        from ctys.plugins.qemu.vm.processes import scan_qemu_processes
        from ctys.plugins.qemu.vm.runtime import RuntimeDir

        for running in running_vms(RuntimeDir()):
            rec = running.record
            if same_file(rec.conf, conf) or (
                uuid and rec.uuid and rec.uuid.lower() == uuid.lower()
            ):
                return running.pid
        if uuid:
            for proc in scan_qemu_processes():
                if proc.cmdline.uuid and proc.cmdline.uuid.lower() == uuid.lower():
                    return proc.pid
        return None

    def attaches(self, call: ActionCall) -> bool:
        return any(s.key in ("CONNECT", "REUSE", "RESUME") for s in call.suboptions)
