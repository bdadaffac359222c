"""WATCH's loop: the poll and one QMP event task per VM, merged into one ordered stream.

Everything runs on one asyncio loop (the poll's blocking scan in a worker thread), so
events print in the order they are known: a VM's START (from the poll) before its QMP
events, which come in QEMU's order. While a VM's event task holds its event monitor the
poll does not ask that VM's run state (the events tell it); when the connection ends
(the VM quit, another reader holds the monitor) the poll takes over from the last state
the events left, so nothing is reported twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ctys.plugins.qemu.actions.watch import Seen, event_name
from ctys.plugins.qemu.vm.qmpevents import Follower, QmpEvent, follow_events
from ctys.remote.watchstream import State, WatchEvent, format_event, snapshot_events

Snapshot = Callable[[frozenset[str]], dict[str, Seen]]


class Watcher:
    """This host's VMs: what is known of each, which event monitors are held, and the
    printing of every event."""

    def __init__(
        self,
        host: str,
        out: TextIO,
        *,
        interval: float,
        as_json: bool,
        follow: Follower = follow_events,
    ) -> None:
        self.host, self.out, self.interval, self.as_json = host, out, interval, as_json
        self.follow = follow
        self.known: dict[str, State] = {}
        self.held: set[str] = set()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.pids: dict[str, int | None] = {}  # each VM's qemu, as the last poll saw it
        self.closed = False  # the reader of our output went away

    def emit(self, event: WatchEvent) -> None:
        if self.closed:
            return
        try:
            print(format_event(event, as_json=self.as_json), file=self.out, flush=True)
        except (BrokenPipeError, ValueError):
            # ``| head`` ended, or the ssh of a remote stream: nobody reads any more. Not
            # raised here: an event task would take it for its monitor's failure.
            self.closed = True

    async def run(self, snapshot: Snapshot, rounds: int | None = None) -> None:
        """Poll every ``interval`` seconds (``rounds`` times, forever when ``None``), until
        nobody reads the output any more."""
        done = 0
        try:
            while (rounds is None or done < rounds) and not self.closed:
                seen = await asyncio.to_thread(snapshot, frozenset(self.held))
                self.merge(seen)
                done += 1
                await asyncio.sleep(self.interval)
        finally:
            for task in self.tasks.values():
                task.cancel()
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    def merge(self, seen: dict[str, Seen]) -> None:
        """One poll's snapshot: its differences printed (a VM whose qemu changed between
        two polls ended and started again), an event task started for each VM with an
        event monitor and none, the tasks of VMs gone stopped."""
        when = time.time()
        for key, (_label, _state, _events, pid) in seen.items():
            old_pid = self.pids.get(key)
            if key in self.known and old_pid is not None and pid != old_pid:
                self._gone(key, when)
        after: dict[str, State] = {}
        for key, (label, state, _events, pid) in seen.items():
            if state is None:  # not asked (its events tell it) or no answer: as it was
                old = self.known.get(key)
                state = old[1] if old else "running"
            after[key] = (label, state)
            self.pids[key] = pid
        for event in snapshot_events(self.known, after, host=self.host, when=when, name=event_name):
            self.emit(event)
        self.known = after
        for key in [k for k in self.pids if k not in after]:
            self._drop(key)
        for key, (label, _state, events, _pid) in seen.items():
            if events is not None and key not in self.tasks:
                self.tasks[key] = asyncio.create_task(self._follow(key, label, events))

    def _gone(self, key: str, when: float) -> None:
        label, state = self.known.pop(key)
        name = event_name(state, None)
        if name is not None:
            self.emit(WatchEvent(when, self.host, label, name, key))
        self._drop(key)

    def _drop(self, key: str) -> None:
        task = self.tasks.pop(key, None)
        if task is not None:
            task.cancel()
        self.held.discard(key)
        self.pids.pop(key, None)

    async def _follow(self, key: str, label: str, events: Path) -> None:
        """Hold ``key``'s event monitor until the connection ends (the VM quit). The next
        poll starts another task if the VM is still there, once it has checked that it is
        the same qemu: a task never connects again by itself, maybe to a VM started anew."""
        from qemu.qmp import QMPError

        try:
            await self.follow(
                events,
                lambda status: self._opened(key, label, status),
                lambda event: self._event(key, label, event),
                timeout=max(1.0, self.interval),
            )
        except (OSError, EOFError, TimeoutError, QMPError):
            pass  # missing, refused, or another reader has it: the poll covers it
        finally:
            self.held.discard(key)
            if self.tasks.get(key) is asyncio.current_task():
                del self.tasks[key]

    def _opened(self, key: str, label: str, status: str) -> None:
        # What changed between the poll's last look and the connection is one event.
        self.held.add(key)
        old = self.known.get(key)
        if old is None or status == "unknown":
            return
        if status != old[1]:
            name = event_name(old[1], status)
            if name is not None:
                self.emit(WatchEvent(time.time(), self.host, label, name, key))
        self.known[key] = (label, status)

    def _event(self, key: str, label: str, event: QmpEvent) -> None:
        detail = f"{key} {event.detail}" if event.detail else key
        self.emit(WatchEvent(event.time, self.host, label, event.name, detail))
        if event.status is not None and key in self.known:
            self.known[key] = (label, event.status)


__all__ = ["Snapshot", "Watcher"]
