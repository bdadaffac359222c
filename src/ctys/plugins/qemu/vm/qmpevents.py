"""QMP events of one VM, read from its event-only monitor (``VmRuntimeDir.events``).

Every VM CREATE starts has two QMP monitors: ``qmp.sock`` for commands (every action,
through ``vm.handle.VmHandle``) and ``events.sock``, which WATCH alone holds for as long as
the VM runs. QEMU serves one client per monitor: a second reader of ``events.sock`` would
wait in its backlog (and make WATCH fall back to polling), so nothing else connects to it;
a command-line scan takes the first ``-qmp`` (the command monitor).

The pure half names an event and its details; ``follow_events`` holds one connection and
hands each lifecycle event on, with the run state queried right after it (QMP's ``STOP``
says no reason: ``query-status`` tells a pause from a KVM internal error).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qemu.qmp import QMPClient

# The events WATCH reports: the run state's and the guest's, and block jobs'. Chatty
# ones (RTC_CHANGE, JOB_STATUS_CHANGE, VNC_*, NIC_RX_FILTER_CHANGED...) are left out.
LIFECYCLE = frozenset(
    {
        "SHUTDOWN",
        "POWERDOWN",
        "RESET",
        "STOP",
        "RESUME",
        "SUSPEND",
        "SUSPEND_DISK",
        "WAKEUP",
        "GUEST_PANICKED",
        "GUEST_CRASHLOADED",
        "WATCHDOG",
        "BLOCK_IO_ERROR",
    }
)
BLOCK_JOBS = frozenset(
    {
        "BLOCK_JOB_COMPLETED",
        "BLOCK_JOB_CANCELLED",
        "BLOCK_JOB_ERROR",
        "BLOCK_JOB_READY",
        "BLOCK_JOB_PENDING",
    }
)
REPORTED = LIFECYCLE | BLOCK_JOBS

INTERNAL_ERROR = "INTERNAL_ERROR"

# The details worth a word, per event, in this order (the rest of the data is left out).
_DETAIL_KEYS = (
    "reason",
    "guest",
    "action",
    "type",
    "device",
    "id",
    "operation",
    "offset",
    "len",
    "speed",
    "error",
)


@dataclass(frozen=True)
class QmpEvent:
    """One reported event: its name as WATCH prints it, QEMU's timestamp (epoch seconds),
    its details, and the run state right after it (``None``: not asked, or no answer)."""

    name: str
    time: float
    detail: str
    status: str | None = None


def event_time(message: Mapping[str, Any], fallback: float) -> float:
    """QEMU's own timestamp of an event (``{"seconds", "microseconds"}``), ``fallback``
    when it has none (QEMU stamps events it could not time with -1)."""
    stamp = message.get("timestamp")
    if not isinstance(stamp, Mapping):
        return fallback
    try:
        seconds, micro = int(stamp["seconds"]), int(stamp["microseconds"])
    except (KeyError, TypeError, ValueError):
        return fallback
    return fallback if seconds < 0 else seconds + micro / 1e6


def event_detail(data: object) -> str:
    """An event's data as ``key=value`` words (``_DETAIL_KEYS``; a panic's ``info`` by its
    type), e.g. ``reason=host-qmp-system-reset guest=false``."""
    if not isinstance(data, Mapping):
        return ""
    words = [f"{key}={_word(data[key])}" for key in _DETAIL_KEYS if key in data]
    info = data.get("info")
    if isinstance(info, Mapping) and "type" in info:
        words.append(f"info={_word(info['type'])}")
    return " ".join(words)


def _word(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace(" ", "_")


def reported_name(event: str, status: str | None) -> str:
    """The name WATCH gives a QMP event: a ``STOP`` into QEMU's ``internal-error`` state
    (a KVM internal error) is ``INTERNAL_ERROR``; every other event keeps its name."""
    if event == "STOP" and status == "internal-error":
        return INTERNAL_ERROR
    return event


# --- one connection ------------------------------------------------------------------------

OnOpen = Callable[[str], None]
OnEvent = Callable[[QmpEvent], None]


async def follow_events(
    socket: Path,
    on_open: OnOpen,
    on_event: OnEvent,
    *,
    timeout: float = 2.0,
    clock: Callable[[], float] | None = None,
) -> None:
    """Hold one connection to the event monitor ``socket``: ``on_open(run state)`` once
    connected, then ``on_event`` for each reported event in QEMU's order, until the
    connection ends (the VM quit; returns). ``OSError``/``TimeoutError``/``QMPError`` when
    it cannot connect within ``timeout`` (missing, refused, or held by another reader)."""
    import asyncio
    import time

    from qemu.qmp import QMPClient

    from ctys.plugins.qemu.vm.qmp import _disconnect

    now = clock or time.time
    client = QMPClient("ctys-watch")
    _quiet(client)
    try:
        await asyncio.wait_for(client.connect(str(socket)), timeout)
        on_open(await _status(client, timeout) or "unknown")
        while True:
            # The default listener: it has every event since the connection opened.
            message = await _next_event(client, client.events)
            if message is None:
                return
            name = str(message.get("event", ""))
            if name not in REPORTED:
                continue
            status = await _status(client, timeout) if name in LIFECYCLE else None
            when = event_time(message, now())
            detail = event_detail(message.get("data"))
            on_event(QmpEvent(reported_name(name, status), when, detail, status))
    finally:
        await _disconnect(client, timeout)


async def _next_event(client: QMPClient, listener: Any) -> Any:
    """The next event, ``None`` once the connection has ended (events already received are
    handed out first)."""
    import asyncio

    from qemu.qmp import Runstate

    while True:
        if not listener.empty():
            return await listener.get()
        if client.runstate is not Runstate.RUNNING:
            return None
        get: asyncio.Task[Any] = asyncio.ensure_future(listener.get())
        change: asyncio.Task[Any] = asyncio.ensure_future(client.runstate_changed())
        done, _pending = await asyncio.wait({get, change}, return_when=asyncio.FIRST_COMPLETED)
        change.cancel()
        if get in done:
            return get.result()
        get.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await get


async def _status(client: QMPClient, timeout: float) -> str | None:
    import asyncio

    from qemu.qmp import QMPError

    from ctys.plugins.qemu.vm.qmp import status_of

    try:
        return status_of(await asyncio.wait_for(client.execute("query-status"), timeout))
    except (QMPError, OSError, EOFError, TimeoutError):
        return None


def _quiet(client: QMPClient) -> None:
    # A VM that quits drops the connection: qemu.qmp logs that as an error on stderr,
    # which a stream of events must not carry.
    import logging

    client.logger.setLevel(logging.CRITICAL)


Follower = Callable[..., Awaitable[None]]

__all__ = [
    "BLOCK_JOBS",
    "INTERNAL_ERROR",
    "LIFECYCLE",
    "REPORTED",
    "Follower",
    "QmpEvent",
    "event_detail",
    "event_time",
    "follow_events",
    "reported_name",
]
