"""Blocking helpers over ``qemu.qmp``'s asyncio QMP client.

ctys is a short-lived CLI: each call connects, runs a few commands and disconnects, with a
hard timeout so a monitor that stops answering never hangs the caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ctys.errors import QemuError

# asyncio and qemu.qmp cost ~20 ms to import: they load on the first QMP call, so CREATE
# starts qemu without paying for them first.

DEFAULT_TIMEOUT = 3.0


class QmpUnavailable(QemuError):
    """The QMP socket is missing, refuses connections or does not answer in time."""


async def _execute_many(
    socket_path: Path, commands: list[tuple[str, Mapping[str, object] | None]], timeout: float
) -> list[Any]:
    import asyncio

    from qemu.qmp import QMPClient, QMPError

    client = QMPClient("ctys")
    try:
        await asyncio.wait_for(client.connect(str(socket_path)), timeout)
        results = []
        for name, arguments in commands:
            results.append(await asyncio.wait_for(client.execute(name, arguments), timeout))
        return results
    finally:
        with contextlib.suppress(QMPError, OSError, TimeoutError):
            await asyncio.wait_for(client.disconnect(), timeout)


def qmp_execute_many(
    socket_path: Path,
    commands: list[tuple[str, Mapping[str, object] | None]],
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Any]:
    """Run QMP commands in order on one connection; raise ``QmpUnavailable`` on any
    connection failure or timeout (the message names the socket)."""
    import asyncio

    from qemu.qmp import QMPError

    try:
        return asyncio.run(_execute_many(socket_path, commands, timeout))
    except TimeoutError as exc:
        raise QmpUnavailable(
            f"QMP socket {socket_path} did not answer within {timeout:g}s"
        ) from exc
    except (QMPError, OSError, EOFError) as exc:
        detail = str(exc) or type(exc).__name__
        raise QmpUnavailable(f"QMP socket {socket_path}: {detail}") from exc


def qmp_execute(
    socket_path: Path,
    command: str,
    arguments: Mapping[str, object] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """Run one QMP command and return its result."""
    return qmp_execute_many(socket_path, [(command, arguments)], timeout)[0]


def query_status(socket_path: Path, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The VM's run state as QMP names it: ``running``, ``paused``, ``internal-error``,
    ``shutdown``, ``guest-panicked``, ..."""
    result = qmp_execute(socket_path, "query-status", timeout=timeout)
    return str(result.get("status", "unknown")) if isinstance(result, dict) else "unknown"
