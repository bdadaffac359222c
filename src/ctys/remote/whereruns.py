"""Where a multipath VM runs already: asked of every candidate host before CREATE places
it (remote hosts with the fan-out ``LIST``, this host in-process), so a VM is never started
a second time on another host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TextIO

from ctys.address.match import same_file
from ctys.errors import CtysError

if TYPE_CHECKING:
    from ctys.remote.fanout import TargetResult
    from ctys.remote.placement import Candidate


@dataclass(frozen=True)
class RunsOn:
    """A candidate host on which the VM runs, and its pid there."""

    candidate: Candidate
    pid: int


def row_is_vm(row: Mapping[str, object], cand: Candidate) -> bool:
    """Whether a LIST row of ``cand``'s host is the VM: the same UUID, or its conf file."""
    uuid = str(row.get("UUID") or "").lower()
    if cand.uuid and uuid == cand.uuid.lower():
        return True
    conf = row.get("CONF")
    return bool(conf) and same_file(str(conf), cand.pname)


def _pid_of(rows: Sequence[Mapping[str, object]], cand: Candidate) -> int | None:
    """The pid of the VM among a host's LIST rows (a managed row before an unmanaged one)."""
    mine = [r for r in rows if row_is_vm(r, cand)]
    mine.sort(key=lambda r: r.get("MANAGED") is not True)
    for row in mine:
        pid = row.get("PID")
        if isinstance(pid, int):
            return pid
    return None


def local_pid(cand: Candidate) -> int | None:
    """The pid of the VM on this host: our runtime records, else any qemu with its UUID."""
    from ctys.plugins.qemu.actions.find_running import running_vms
    from ctys.plugins.qemu.vm.processes import scan_qemu_processes
    from ctys.plugins.qemu.vm.runtime import RuntimeDir

    for running in running_vms(RuntimeDir()):
        rec = running.record
        if same_file(rec.conf, cand.pname) or (
            cand.uuid and rec.uuid and rec.uuid.lower() == cand.uuid.lower()
        ):
            return running.pid
    if cand.uuid:
        for proc in scan_qemu_processes():
            if proc.cmdline.uuid and proc.cmdline.uuid.lower() == cand.uuid.lower():
                return proc.pid
    return None


def where_running(
    found: Sequence[Candidate], results: Sequence[TargetResult], err: TextIO
) -> tuple[list[RunsOn], set[str]]:
    """The candidates on which the VM runs, and the hosts that did not answer (each gets
    its ``ctys: host: ...`` line on ``err``). ``results``: the fan-out ``LIST=JSON -o ALL``
    of the remote candidates; this host is looked at in-process."""
    from ctys.remote.merge import error_line, json_rows

    by_host = {r.target: r for r in results}
    runs: list[RunsOn] = []
    silent: set[str] = set()
    for cand in found:
        if cand.local:
            pid = local_pid(cand)
        else:
            result = by_host.get(cand.host)
            if result is None:
                continue
            reason = result.error or f"LIST failed (exit {result.returncode})"
            rows = None
            if result.error is None and result.returncode == 0:
                try:
                    rows = json_rows(result)
                except CtysError as exc:
                    reason = str(exc)
            if rows is None:
                print(error_line(replace(result, error=reason)), file=err)
                silent.add(cand.host)
                continue
            pid = _pid_of(rows, cand)
        if pid is not None:
            runs.append(RunsOn(cand, pid))
    return runs, silent
