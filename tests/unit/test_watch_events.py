"""WATCH's QMP event source: event names, details and timestamps, one connection to a
fake event monitor (a real UNIX socket speaking QMP), and the loop merging poll and
events without reporting a change twice."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ctys.plugins.qemu.actions.watch import Seen
from ctys.plugins.qemu.actions.watchloop import Watcher
from ctys.plugins.qemu.vm.qmpevents import (
    QmpEvent,
    event_detail,
    event_time,
    follow_events,
    reported_name,
)
from support.qmpframes import JsonObjects


def _event(name: str, seconds: int = 1700000000, micro: int = 250000, **data: object) -> dict:
    message: dict[str, Any] = {
        "event": name,
        "timestamp": {"seconds": seconds, "microseconds": micro},
    }
    if data:
        message["data"] = data
    return message


def test_event_time_is_qemus_own_stamp() -> None:
    assert event_time(_event("RESET", 1700000000, 250000), 5.0) == 1700000000.25
    assert event_time({"event": "RESET"}, 5.0) == 5.0
    assert event_time(_event("RESET", -1, -1), 5.0) == 5.0  # QEMU could not time it
    assert event_time({"timestamp": {"seconds": "x"}}, 5.0) == 5.0


def test_event_detail_names_the_reason_and_the_job() -> None:
    assert event_detail({"guest": False, "reason": "host-qmp-quit"}) == (
        "reason=host-qmp-quit guest=false"
    )
    job = {"type": "backup", "device": "j1", "len": 10, "offset": 10, "speed": 0}
    assert event_detail(job) == "type=backup device=j1 offset=10 len=10 speed=0"
    panic = {"action": "pause", "info": {"type": "hyper-v", "arg1": 1}}
    assert event_detail(panic) == "action=pause info=hyper-v"
    assert event_detail({"error": "No space left"}) == "error=No_space_left"
    assert event_detail(None) == ""


@pytest.mark.parametrize(
    ("event", "status", "name"),
    [
        ("STOP", "internal-error", "INTERNAL_ERROR"),
        ("STOP", "paused", "STOP"),
        ("STOP", "running", "STOP"),  # resumed again already: still the STOP it was
        ("STOP", None, "STOP"),
        ("RESET", "internal-error", "RESET"),
    ],
)
def test_a_stop_into_internal_error_has_its_own_name(
    event: str, status: str | None, name: str
) -> None:
    assert reported_name(event, status) == name


# --- a fake event monitor ------------------------------------------------------------------


async def _serve(
    path: Path, events: list[dict], statuses: list[str], *, greet: bool = True
) -> asyncio.AbstractServer:
    """A QMP server: greeting, capabilities, ``query-status`` answered from ``statuses``
    (first at connect, then one per lifecycle event), ``events`` sent after the first one,
    then the connection closed (the VM quit)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not greet:
            await reader.read()  # holds the client, says nothing: another reader's monitor
            return
        version = {"qemu": {"major": 9, "minor": 0, "micro": 0}, "package": ""}
        greeting = {"QMP": {"version": version, "capabilities": []}}
        writer.write(json.dumps(greeting).encode() + b"\n")
        queries = 0
        async for request in _requests(reader):
            reply: dict[str, Any] = {"return": {}}
            if request["execute"] == "query-status":
                reply = {"return": {"status": statuses[queries], "running": True}}
                queries += 1
            if "id" in request:
                reply["id"] = request["id"]
            writer.write(json.dumps(reply).encode() + b"\n")
            if request["execute"] == "query-status" and queries == 1:
                for event in events:
                    writer.write(json.dumps(event).encode() + b"\n")
            await writer.drain()
            if queries == len(statuses):
                break
        writer.close()

    return await asyncio.start_unix_server(handle, path=str(path))


async def _requests(reader: asyncio.StreamReader) -> AsyncIterator[dict]:
    """The JSON objects a client sends."""
    stream = JsonObjects()
    while chunk := await reader.read(4096):
        for request in stream.feed(chunk.decode()):
            yield request


def _follow(path: Path, events: list[dict], statuses: list[str]) -> tuple[list[str], list]:
    opened: list[str] = []
    seen: list[QmpEvent] = []

    async def main() -> None:
        server = await _serve(path, events, statuses)
        async with server:
            await asyncio.wait_for(follow_events(path, opened.append, seen.append, timeout=2), 10)

    asyncio.run(main())
    return opened, seen


def test_follow_reports_each_event_in_order_with_qemus_time(short_tmp: Path) -> None:
    sock = short_tmp / "events.sock"
    events = [
        _event("STOP", micro=1),
        _event("RESUME", micro=2),
        _event("RTC_CHANGE", offset=1),  # not a lifecycle event: left out
        _event("RESET", micro=3, guest=False, reason="host-qmp-system-reset"),
        _event("BLOCK_JOB_COMPLETED", micro=4, type="backup", device="j1", len=4, offset=4),
        _event("STOP", micro=5),
        _event("SHUTDOWN", micro=6, guest=True, reason="guest-shutdown"),
    ]
    # At connect; after STOP, RESUME, RESET; after the second STOP (a KVM internal error);
    # after SHUTDOWN.
    statuses = ["running", "paused", "running", "running", "internal-error", "shutdown"]
    opened, seen = _follow(sock, events, statuses)
    assert opened == ["running"]
    assert [(e.name, round(e.time % 1, 6)) for e in seen] == [
        ("STOP", 0.000001),
        ("RESUME", 0.000002),
        ("RESET", 0.000003),
        ("BLOCK_JOB_COMPLETED", 0.000004),
        ("INTERNAL_ERROR", 0.000005),
        ("SHUTDOWN", 0.000006),
    ]
    assert seen[2].detail == "reason=host-qmp-system-reset guest=false"
    assert seen[3].status is None  # a job's event asks no run state
    assert seen[5].detail == "reason=guest-shutdown guest=true"
    assert [e.status for e in seen if e.status] == statuses[1:]


def test_follow_gives_up_on_a_monitor_another_reader_holds(short_tmp: Path) -> None:
    sock = short_tmp / "events.sock"

    async def main() -> None:
        server = await _serve(sock, [], [], greet=False)
        async with server:
            await follow_events(sock, print, print, timeout=0.5)

    with pytest.raises(TimeoutError):
        asyncio.run(main())


def test_follow_raises_on_a_missing_socket(short_tmp: Path) -> None:
    from qemu.qmp import QMPError

    with pytest.raises((OSError, QMPError)):
        asyncio.run(follow_events(short_tmp / "none.sock", print, print, timeout=0.5))


# --- the loop --------------------------------------------------------------------------------


def _watch(snapshots: list[dict[str, Seen]], follow: Any) -> tuple[list[dict], list]:
    out = io.StringIO()
    watcher = Watcher("h", out, interval=0.01, as_json=True, follow=follow)
    asked: list[frozenset[str]] = []

    def snapshot(held: frozenset[str]) -> dict[str, Seen]:
        asked.append(held)
        return snapshots[min(len(asked), len(snapshots)) - 1]

    asyncio.run(watcher.run(snapshot, rounds=len(snapshots)))
    return [json.loads(line) for line in out.getvalue().splitlines()], asked


def _scripted(events: list[QmpEvent], status: str = "running") -> Callable[..., Any]:
    async def follow(path: Path, on_open: Any, on_event: Any, *, timeout: float) -> None:
        on_open(status)
        for event in events:
            on_event(event)
        await asyncio.sleep(3600)  # holds the monitor until the VM is gone

    return follow


def test_poll_and_events_merge_into_one_ordered_stream(tmp_path: Path) -> None:
    sock = tmp_path / "events.sock"
    follow = _scripted(
        [
            QmpEvent("STOP", 10.0, "", "paused"),
            QmpEvent("RESUME", 10.1, "", "running"),
            QmpEvent("RESET", 10.2, "reason=guest-reset guest=true", "running"),
        ]
    )
    up: dict[str, Seen] = {"vm1-1": ("vm1", "running", sock, 41)}
    held: dict[str, Seen] = {"vm1-1": ("vm1", None, sock, 41)}  # the poll did not ask
    lines, asked = _watch([up, held, held, {}], follow)
    assert [(e["label"], e["event"]) for e in lines] == [
        ("vm1", "START"),
        ("vm1", "STOP"),
        ("vm1", "RESUME"),
        ("vm1", "RESET"),
        ("vm1", "GONE"),
    ]
    assert lines[3]["time"] == 10.2 and lines[3]["detail"] == "vm1-1 reason=guest-reset guest=true"
    assert "vm1-1" in asked[1]  # while held the poll is told not to ask the run state


def test_a_change_before_the_connection_is_one_event_and_none_twice(tmp_path: Path) -> None:
    sock = tmp_path / "events.sock"
    # The poll saw it running; by the time the event monitor answers it is paused.
    lines, _ = _watch(
        [{"v-1": ("v", "running", sock, 41)}, {"v-1": ("v", None, sock, 41)}, {}],
        _scripted([], status="paused"),
    )
    assert [e["event"] for e in lines] == ["START", "STOP", "GONE"]


def test_without_an_event_monitor_the_poll_reports_the_state(tmp_path: Path) -> None:
    async def never(*_args: object, **_kw: object) -> None:
        raise AssertionError("no event monitor: nothing connects")

    lines, _ = _watch(
        [
            {"old-1": ("old", "running", None, 41), "pid:7": ("hand", "foreign", None, 7)},
            {"old-1": ("old", "paused", None, 41), "pid:7": ("hand", "foreign", None, 7)},
            {"old-1": ("old", "running", None, 41)},
        ],
        never,
    )
    assert [(e["label"], e["event"]) for e in lines] == [
        ("old", "START"),  # one poll's events in key order
        ("hand", "FOREIGN_START"),
        ("old", "STOP"),
        ("old", "RESUME"),
        ("hand", "FOREIGN_GONE"),
    ]


def test_when_the_monitor_is_lost_the_poll_goes_on_from_the_last_event(tmp_path: Path) -> None:
    sock = tmp_path / "events.sock"

    calls: list[int] = []

    async def once(path: Path, on_open: Any, on_event: Any, *, timeout: float) -> None:
        calls.append(1)
        if len(calls) > 1:
            raise ConnectionRefusedError(111, "refused")  # the poll's next try: refused
        on_open("running")
        on_event(QmpEvent("STOP", 1.0, "", "paused"))
        raise OSError("the other end went away")

    # The poll sees it paused after the connection ended: that is no new event.
    running, paused = ("v", "running", sock, 41), ("v", "paused", sock, 41)
    lines, _ = _watch([{"v-1": running}, {"v-1": paused}, {"v-1": paused}, {}], once)
    assert len(calls) > 1  # the poll tried again
    assert [e["event"] for e in lines] == ["START", "STOP", "GONE"]


def test_the_loop_ends_when_nobody_reads_its_output(tmp_path: Path) -> None:
    class Gone(io.StringIO):
        def write(self, _text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    watcher = Watcher("h", Gone(), interval=0.01, as_json=False, follow=_scripted([]))
    polls: list[int] = []

    def snapshot(_held: frozenset[str]) -> dict[str, Seen]:
        polls.append(1)
        return {"v-1": ("v", "running", None, 41)}

    asyncio.run(asyncio.wait_for(watcher.run(snapshot), 10))  # ends by itself
    assert watcher.closed and polls == [1]


def test_a_vm_started_again_between_two_polls_ends_and_starts(tmp_path: Path) -> None:
    sock = tmp_path / "events.sock"
    calls: list[int] = []

    async def quits(path: Path, on_open: Any, on_event: Any, *, timeout: float) -> None:
        calls.append(1)
        on_open("running")
        if len(calls) == 1:
            on_event(QmpEvent("STOP", 1.0, "", "paused"))
            on_event(QmpEvent("SHUTDOWN", 2.0, "reason=host-qmp-quit guest=false"))
        # the connection ends: that qemu quit

    # Same runtime ID, another qemu (CANCEL then CREATE within one interval); then the
    # new one is seen starting, running, gone.
    lines, _ = _watch(
        [
            {"v-1": ("v", "running", sock, 41)},
            {"v-1": ("v", None, sock, 42)},
            {"v-1": ("v", None, sock, 42)},
            {"v-1": ("v", "starting", None, None)},
            {"v-1": ("v", "running", sock, 43)},
            {},
        ],
        quits,
    )
    assert [e["event"] for e in lines] == [
        "START", "STOP", "SHUTDOWN", "GONE", "START",  # not RESUME: another qemu
        "GONE", "START", "RUNNING", "GONE",
    ], lines  # fmt: skip
