"""WATCH[=<address>|ALL][,JSON]: this host's VM lifecycle events, one line each, until
Ctrl-C.

Two sources (``actions.watchloop`` runs them): each VM CREATE started holds a second,
event-only QMP monitor (``events.sock``), and WATCH keeps one connection per VM on it,
so QEMU's own events (RESET, POWERDOWN, SHUTDOWN with its reason, GUEST_PANICKED,
BLOCK_JOB_*, a STOP and RESUME within any time) come as they happen, with QEMU's
timestamps (``vm.qmpevents``). A poll every ``$CTYS_WATCH_INTERVAL`` seconds (default 1)
finds VMs appearing and disappearing (runtime folders: START/GONE; foreign qemus in the
process table: FOREIGN_START/FOREIGN_GONE) and, for VMs without an event monitor (started
by an older ctys, foreign qemus, one another WATCH holds), their run state by a short
``query-status`` on the command monitor, which it never holds (CANCEL, SNAPSHOT, CONNECT
would be locked out). Formatting is the core's (``ctys.remote.watchstream``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ctys.address.match import VmFacts, all_match, facts_of_record, under_any
from ctys.address.model import MachineSelector
from ctys.errors import UsageError
from ctys.invocation import ActionCall
from ctys.plugins.base import RunContext
from ctys.remote.watchstream import WatchEvent

# A state change and the QMP event name it stands for.
_ENTERED = {
    "paused": "STOP",
    "shutdown": "SHUTDOWN",
    "guest-panicked": "GUEST_PANICKED",
    "internal-error": "INTERNAL_ERROR",
    "suspended": "SUSPEND",
    "io-error": "BLOCK_IO_ERROR",
    "watchdog": "WATCHDOG",
}
_FOREIGN = "foreign"


def event_name(old: str | None, new: str | None) -> str | None:
    """The event a change of one VM's state is: START/GONE for a VM appearing/ending
    (FOREIGN_* for a qemu ctys did not start), RESUME back to running, else the QMP event
    of the state entered (``STATE:<name>`` for one without)."""
    if old is None:
        return "FOREIGN_START" if new == _FOREIGN else "START"
    if new is None:
        return "FOREIGN_GONE" if old == _FOREIGN else "GONE"
    if new == "running":
        return "RESUME" if old in ("paused", "suspended", "debug") else "RUNNING"
    return _ENTERED.get(new, f"STATE:{new}")


@dataclass(frozen=True)
class WatchRequest:
    """Which VMs to watch and how to print: an address as every action takes it (label,
    UUID, MAC, IP, conf path, ID, VMID, BASEPATH), bare words naming a label or runtime ID,
    nothing or ``ALL`` for every VM; ``JSON`` lines."""

    selector: MachineSelector = field(default_factory=MachineSelector)
    names: tuple[str, ...] = ()
    as_json: bool = False

    def wants(self, facts: VmFacts) -> bool:
        """Whether a VM is watched: every address term matches (the matcher of CANCEL and
        LIST), under a BASEPATH when one is given, and named by a bare word if any."""
        if self.names and facts.label not in self.names and facts.vmid not in self.names:
            return False
        bases = self.selector.base_paths
        if bases and not under_any(facts.conf, bases):
            return False
        return all_match(facts, self.selector.terms)


def parse_watch(call: ActionCall) -> WatchRequest:
    """WATCH suboptions → ``WatchRequest``; ``UsageError`` naming a bad or unknown one."""
    from ctys.plugins.qemu.requests import _split_address

    selector, rest = _split_address(call)
    names: list[str] = []
    as_json = False
    for sub in rest:
        if sub.key == "JSON" and not sub.args:
            as_json = True
        elif sub.key == "ALL" and not sub.args:
            continue
        elif not sub.args:
            names.append(sub.raw)  # a bare word: ``WATCH=web1``
        else:
            raise UsageError(f"unknown WATCH suboption '{sub.raw}'")
    return WatchRequest(selector, tuple(names), as_json)


# One VM a poll saw: its label, its run state (``None``: not asked, as its event monitor
# tells it, or no answer), its event monitor (``None``: it has none) and its qemu's pid
# (``None`` while it starts): a VM cancelled and started again between two polls keeps
# its runtime ID, not its pid.
Seen = tuple[str, str | None, Path | None, int | None]


def poll_snapshot(req: WatchRequest, held: frozenset[str]) -> dict[str, Seen]:
    """The watched VMs of this host now, by runtime ID (foreign qemus by ``pid:N``). The
    command monitor is asked for the run state only of VMs whose event monitor WATCH does
    not hold (``held``)."""
    from ctys.plugins.qemu.actions.foreign import foreign_vms
    from ctys.plugins.qemu.vm.processes import scan_qemu_processes
    from ctys.plugins.qemu.vm.runtime import EntryState, RuntimeDir, scan_runtime

    procs = scan_qemu_processes()
    table = {p.pid: p for p in procs}
    seen: dict[str, Seen] = {}
    claimed: set[int] = set()
    asked: dict[str, Path] = {}  # runtime ID -> command monitor, asked below all at once
    for entry in scan_runtime(RuntimeDir(), table):
        if entry.state is EntryState.STALE:
            continue
        if entry.pid is not None:
            claimed.add(entry.pid)
        vmid = entry.rundir.vmid
        record = entry.record
        if entry.pid is None:
            # Its qemu runs before the record names its pid: not a foreign one.
            folder = str(entry.rundir.path)
            claimed.update(p.pid for p in procs if p.cmdline.references(folder))
        if record is None and entry.state is EntryState.STARTING:
            # A CREATE made the folder and has not written the record yet: nothing names
            # the VM (its label would be its runtime ID); the next poll sees it.
            continue
        facts = facts_of_record(record) if record else VmFacts(vmid, "", vmid=vmid)
        if not req.wants(facts):
            continue
        state: str | None = "starting"
        events: Path | None = None
        if entry.state is EntryState.RUNNING:
            state = None
            events = entry.rundir.events if entry.rundir.events.exists() else None
            if vmid not in held:
                asked[vmid] = entry.rundir.qmp
        seen[vmid] = (facts.label, state, events, entry.pid)
    if asked:
        # Every monitor at once, one deadline for all (as LIST asks them).
        from ctys.plugins.qemu.vm.qmpprobe import query_states
        from ctys.plugins.qemu.vm.runstate import RunState

        for vmid, status in zip(asked, query_states(list(asked.values()), 1.0), strict=True):
            if status is not None:
                label, _, events, pid = seen[vmid]
                seen[vmid] = (label, RunState.parse(status).value, events, pid)
    for vm in foreign_vms(claimed, procs).ours:
        if req.wants(vm.facts()):
            seen[f"pid:{vm.pid}"] = (vm.label, _FOREIGN, None, vm.pid)
    return seen


def run_watch(call: ActionCall, ctx: RunContext) -> int:
    """Print this host's events until Ctrl-C (exit 130)."""
    import asyncio
    import os
    import socket

    from ctys.plugins.qemu.actions.watchloop import Watcher

    req = parse_watch(call)
    try:
        interval = float(os.environ.get("CTYS_WATCH_INTERVAL", "1"))
    except ValueError:
        raise UsageError("CTYS_WATCH_INTERVAL: not a number of seconds") from None
    if not interval > 0:
        raise UsageError("CTYS_WATCH_INTERVAL: must be more than 0 seconds")
    watcher = Watcher(socket.gethostname(), ctx.out, interval=interval, as_json=req.as_json)
    try:
        asyncio.run(watcher.run(lambda held: poll_snapshot(req, held)))
    except KeyboardInterrupt:
        return 130
    return 0


__all__ = ["WatchEvent", "WatchRequest", "event_name", "parse_watch", "poll_snapshot", "run_watch"]
