"""WATCH: lifecycle events as lines, and the stream of several targets merged here.

The core half of WATCH knows no hypervisor: a plugin's event source yields
``WatchEvent``\\ s (``snapshot_events`` turns two snapshots of ``{key: (label, state)}``
into them); this module formats them (text escaped for the terminal, or JSON lines), and
``stream_targets`` runs one command per target (``ssh … ctys … -a WATCH…,JSON``)
concurrently, prints each event as it arrives, reports a target that drops and starts it
again after a growing delay (``backoff_delays``). Ctrl-C stops every command's process
group and the caller exits 130.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TextIO

from ctys.textescape import printable

__all__ = [
    "WatchEvent",
    "backoff_delays",
    "format_event",
    "parse_event_line",
    "snapshot_events",
    "stream_targets",
]

# What the core names a target's own connection events (not any VM's).
DISCONNECTED = "DISCONNECTED"


@dataclass(frozen=True)
class WatchEvent:
    """One lifecycle event: when (epoch seconds), where, which VM, what, and details."""

    time: float
    host: str
    label: str
    event: str
    detail: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _stamp(when: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when * 1000) % 1000:03d}Z"
    )


def format_event(event: WatchEvent, *, as_json: bool) -> str:
    """The event's one line: a JSON object, or ``TIME HOST LABEL EVENT [DETAIL]`` with every
    field made safe for a terminal (a label is user data)."""
    if as_json:
        return event.to_json()
    words = [_stamp(event.time), event.host, event.label or "-", event.event]
    if event.detail:
        words.append(event.detail)
    return printable(" ".join(words))


def parse_event_line(line: str, host: str) -> WatchEvent | None:
    """A JSON line a target printed, as an event of ``host`` (the target as the user named
    it, whatever the remote calls itself); ``None`` for a line that is no event."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        when = float(data["time"])
        label, name = str(data.get("label", "")), str(data["event"])
    except (KeyError, TypeError, ValueError):
        return None
    return WatchEvent(when, host, label, name, str(data.get("detail", "")))


State = tuple[str, str]  # (label, state)
Namer = Callable[[str | None, str | None], str | None]


def snapshot_events(
    before: Mapping[str, State],
    after: Mapping[str, State],
    *,
    host: str,
    when: float,
    name: Namer,
) -> list[WatchEvent]:
    """The events between two snapshots, in key order: ``name(old_state, new_state)``
    (``None`` for a VM that was not there / is gone) names each change, ``None`` from it
    means no event."""
    events: list[WatchEvent] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        old_state = old[1] if old else None
        new_state = new[1] if new else None
        if old_state == new_state:
            continue
        event = name(old_state, new_state)
        if event is not None:
            label = (new or old or ("", ""))[0]
            events.append(WatchEvent(when, host, label, event, key))
    return events


def backoff_delays(first: float = 1.0, cap: float = 30.0) -> Iterator[float]:
    """Delays before each reconnect: doubling from ``first`` up to ``cap``, forever."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


# --- several targets -----------------------------------------------------------------------


class _Target:
    """One target's command, run again and again until stopped."""

    def __init__(
        self, name: str, argv: Sequence[str], lines: queue.Queue[WatchEvent], stop: threading.Event
    ) -> None:
        self.name, self.argv, self.lines, self.stop = name, list(argv), lines, stop
        self.proc: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()

    def _note(self, event: str, detail: str) -> None:
        self.lines.put(WatchEvent(time.time(), self.name, "", event, detail))

    def run(self, first: float, cap: float) -> None:
        delays = backoff_delays(first, cap)
        while not self.stop.is_set():
            delivered, status = self._once()
            if self.stop.is_set():
                return
            if delivered:
                delays = backoff_delays(first, cap)  # it worked: start again at once next
            delay = next(delays)
            self._note(DISCONNECTED, f"exit {status}; reconnecting in {delay:g}s")
            if self.stop.wait(delay):
                return

    def _once(self) -> tuple[bool, int]:
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,  # Ctrl-C reaches us only: we stop it, cleanly
            )
        except OSError as exc:
            return False, 127 if exc.errno else 1
        with self.lock:
            self.proc = proc
        if self.stop.is_set():
            self.kill()
        delivered = False
        assert proc.stdout is not None
        for line in proc.stdout:
            event = parse_event_line(line, self.name)
            if event is not None:
                delivered = True
                self.lines.put(event)
        return delivered, proc.wait()

    def kill(self) -> None:
        with self.lock:
            proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def stream_targets(
    argvs: Mapping[str, Sequence[str]],
    out: TextIO,
    *,
    as_json: bool,
    first_delay: float = 1.0,
    max_delay: float = 30.0,
    stop: threading.Event | None = None,
) -> int:
    """Run every target's command at once and print their events merged, each as it comes
    (per target in the order it printed them); a command that ends is reported
    (``DISCONNECTED``) and run again after ``backoff_delays``. Returns 130 on Ctrl-C
    (every command's process group stopped first), 0 when ``stop`` is set."""
    stopping = stop or threading.Event()
    events: queue.Queue[WatchEvent] = queue.Queue()
    targets = [_Target(name, argv, events, stopping) for name, argv in argvs.items()]
    threads = [
        threading.Thread(target=t.run, args=(first_delay, max_delay), daemon=True) for t in targets
    ]
    for thread in threads:
        thread.start()
    status = 0
    try:
        while not stopping.is_set():
            try:
                event = events.get(timeout=0.2)
            except queue.Empty:
                continue
            print(format_event(event, as_json=as_json), file=out, flush=True)
    except KeyboardInterrupt:
        status = 130
    finally:
        stopping.set()
        for target in targets:
            target.kill()
        for thread in threads:
            thread.join(timeout=3)
    return status
