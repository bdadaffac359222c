"""The run state of many VMs at once: ``query-status`` on each QMP socket, every
connection open together in one event loop (``qemu.qmp``), one deadline for all.

LIST asks every running VM for its state. Through ``vm.qmp.QmpSession`` (one event loop
and one connection per VM, asked one after the other from a thread pool) that cost LIST
more than all its other work for 20 VMs; here one ``asyncio`` loop holds a ``QMPClient``
per socket, each connects, negotiates, asks ``query-status`` and disconnects at once. No
connection is held beyond that, so no other client (QEMU serves one at a time) waits
longer than the query; a monitor that is busy with another client, or does not answer,
is ``None`` when the deadline passes. Every action that changes a VM still goes through
``vm.handle.VmHandle``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

from ctys.plugins.qemu.vm.qmp import status_of


def query_states(sockets: Sequence[Path], timeout: float) -> list[str | None]:
    """The QMP run state (``running``, ``paused``, ...) behind each socket of ``sockets``,
    in their order (``unknown`` for a reply that names none); ``None`` for a socket that is
    missing, refuses the connection or has not answered when ``timeout`` (seconds, for all
    of them together) has passed."""
    if not sockets:
        return []
    return asyncio.run(_query_all(sockets, timeout))


async def _query_all(sockets: Sequence[Path], timeout: float) -> list[str | None]:
    tasks = [asyncio.ensure_future(_query_one(path)) for path in sockets]
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()  # its ``finally`` closes the connection
    await asyncio.gather(*pending, return_exceptions=True)
    return [None if task in pending else task.result() for task in tasks]


async def _query_one(path: Path) -> str | None:
    from qemu.qmp import QMPClient, QMPError

    client = QMPClient()
    try:
        await client.connect(str(path))
        return status_of(await client.execute("query-status"))
    except (QMPError, OSError):  # missing, refused, not a socket, not a monitor
        return None
    finally:
        with contextlib.suppress(QMPError, OSError):
            await client.disconnect()
