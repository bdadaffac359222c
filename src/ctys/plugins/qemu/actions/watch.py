"""WATCH[=<address>|ALL][,JSON]: this host's VM lifecycle events, one line each, until
Ctrl-C.

The event source polls (``$CTYS_WATCH_INTERVAL`` seconds, default 1): the runtime dir
(VM folders appearing: START, removed: GONE), each managed VM's run state by a short
``query-status`` (STOP, RESUME, SHUTDOWN, GUEST_PANICKED, INTERNAL_ERROR, ...), and the
process table (foreign qemus: FOREIGN_START / FOREIGN_GONE). It never holds a VM's QMP
monitor: QEMU serves one client at a time, so a held connection would lock CANCEL,
SNAPSHOT and CONNECT out; a poll holds it for milliseconds, and a command that connects
meanwhile waits in the socket's backlog. Formatting is the core's
(``ctys.remote.watchstream``)."""

from __future__ import annotations

import os
import time

from ctys.errors import UsageError
from ctys.invocation import ActionCall
from ctys.plugins.base import RunContext
from ctys.remote.watchstream import State, WatchEvent, format_event, snapshot_events

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


def parse_watch(call: ActionCall) -> tuple[tuple[str, ...], bool]:
    """The words naming the VMs to watch (empty: all) and whether JSON lines are asked
    for; ``UsageError`` naming an unknown suboption."""
    words: list[str] = []
    as_json = False
    for sub in call.suboptions:
        key = sub.raw.upper()
        if key == "JSON":
            as_json = True
        elif key == "ALL":
            continue
        elif sub.raw:
            words.append(sub.raw.partition(":")[2] if ":" in sub.raw else sub.raw)
    return tuple(words), as_json


def _snapshot(words: tuple[str, ...]) -> dict[str, State]:
    from ctys.plugins.qemu.actions.foreign import foreign_vms
    from ctys.plugins.qemu.vm.handle import VmHandle
    from ctys.plugins.qemu.vm.processes import scan_qemu_processes
    from ctys.plugins.qemu.vm.runtime import EntryState, RuntimeDir, scan_runtime

    procs = scan_qemu_processes()
    table = {p.pid: p for p in procs}
    states: dict[str, State] = {}
    claimed: set[int] = set()
    for entry in scan_runtime(RuntimeDir(), table):
        if entry.state is EntryState.STALE:
            continue
        label = entry.record.label if entry.record else entry.rundir.vmid
        if entry.pid is not None:
            claimed.add(entry.pid)
        if words and label not in words and entry.rundir.vmid not in words:
            continue
        state = "starting"
        if entry.state is EntryState.RUNNING:
            handle = VmHandle.attach(entry.rundir)
            if handle is not None:
                with handle:
                    found = handle.status(timeout=1.0)
                state = found.value if found is not None else "running"
        states[entry.rundir.vmid] = (label, state)
    for vm in foreign_vms(claimed, procs).ours:
        if not words or vm.label in words:
            states[f"pid:{vm.pid}"] = (vm.label, _FOREIGN)
    return states


def run_watch(call: ActionCall, ctx: RunContext) -> int:
    """Print this host's events until Ctrl-C (exit 130)."""
    import socket

    words, as_json = parse_watch(call)
    try:
        interval = float(os.environ.get("CTYS_WATCH_INTERVAL", "1"))
    except ValueError:
        raise UsageError("CTYS_WATCH_INTERVAL: not a number of seconds") from None
    host = socket.gethostname()
    before: dict[str, State] = {}
    try:
        while True:
            after = _snapshot(words)
            for event in snapshot_events(
                before, after, host=host, when=time.time(), name=event_name
            ):
                print(format_event(event, as_json=as_json), file=ctx.out, flush=True)
            before = after
            time.sleep(interval)
    except KeyboardInterrupt:
        return 130


__all__ = ["WatchEvent", "event_name", "parse_watch", "run_watch"]
