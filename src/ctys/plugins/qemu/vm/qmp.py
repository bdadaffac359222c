"""Blocking helpers over ``qemu.qmp``'s asyncio QMP client.

ctys is a short-lived CLI: a ``QmpSession`` holds one connection (on a private event loop)
for the commands of one action, with a hard timeout per step so a monitor that stops
answering never hangs the caller. It is the only way ctys opens a command connection that
acts on a VM, and ``vm.handle.VmHandle`` owns it: QEMU serves one QMP client at a time, so
no code opens a second connection beside a handle's. (LIST reads run states with
``vm.qmpprobe``: one read-only ``query-status`` per socket, closed at once. WATCH reads
events from a VM's second, event-only monitor: ``vm.qmpevents``.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctys.errors import VmError
from ctys.plugins.qemu.vm.runstate import reply_status

if TYPE_CHECKING:
    import asyncio

    from qemu.qmp import QMPClient

# asyncio and qemu.qmp cost ~20 ms to import: they load on the first QMP call, so CREATE
# starts qemu without paying for them first.

DEFAULT_TIMEOUT = 3.0


class QmpError(VmError):
    """A QMP command did not run: the monitor is unavailable, or QEMU refused it."""


class QmpUnavailable(QmpError):
    """The QMP socket is missing, refuses connections or does not answer in time."""


class QmpCommandFailed(QmpError):
    """QEMU answered a command with an error reply: the monitor works, the command failed
    (its connection stays open for the next command)."""

    def __init__(self, command: str, desc: str) -> None:
        super().__init__(f"QMP command {command} failed: {desc}")
        self.command = command
        self.desc = desc


class QmpSession:
    """One QMP connection reused by every command until ``close()``: opened on the first
    command, dropped after any failure (the next command connects again)."""

    def __init__(self, socket_path: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._runner: asyncio.Runner | None = None
        self._client: QMPClient | None = None

    def __enter__(self) -> QmpSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def execute(
        self,
        command: str,
        arguments: Mapping[str, object] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Run one QMP command and return its result; ``QmpCommandFailed`` when QEMU
        answers with an error, ``QmpUnavailable`` (naming the socket) on any connection
        failure or timeout."""
        import asyncio

        from qemu.qmp import ExecuteError, QMPError

        limit = self.timeout if timeout is None else timeout
        if self._runner is None:
            self._runner = asyncio.Runner()
        try:
            return self._runner.run(self._execute(command, arguments, limit))
        except TimeoutError as exc:
            self._drop()
            raise QmpUnavailable(
                f"QMP socket {self.socket_path} did not answer within {limit:g}s"
            ) from exc
        except ExecuteError as exc:
            raise QmpCommandFailed(command, exc.error.error.desc) from exc
        except (QMPError, OSError, EOFError) as exc:
            self._drop()
            detail = str(exc) or type(exc).__name__
            raise QmpUnavailable(f"QMP socket {self.socket_path}: {detail}") from exc

    def send_fd(self, fd: int, name: str, timeout: float | None = None) -> None:
        """Hand QEMU the open file ``fd`` under ``name`` (SCM_RIGHTS, then ``getfd``), for
        a ``fd:<name>`` migration URI: qemu writes or reads a file ctys opened, so no
        shell (``exec:``) is involved."""
        limit = self.timeout if timeout is None else timeout

        async def send() -> None:
            client = await self._connected(limit)
            client.send_fd_scm(fd)

        self._run_guarded("getfd", send(), limit)
        self.execute("getfd", {"fdname": name}, limit)

    def _run_guarded(self, command: str, work: Any, limit: float) -> Any:
        import asyncio

        from qemu.qmp import QMPError

        if self._runner is None:
            self._runner = asyncio.Runner()
        try:
            return self._runner.run(work)
        except (TimeoutError, QMPError, OSError, EOFError) as exc:
            self._drop()
            raise QmpUnavailable(f"QMP socket {self.socket_path}: {command}: {exc}") from exc

    async def _connected(self, timeout: float) -> QMPClient:
        import asyncio

        from qemu.qmp import QMPClient

        if self._client is None:
            client = QMPClient("ctys")
            try:
                await asyncio.wait_for(client.connect(str(self.socket_path)), timeout)
            except BaseException:
                await _disconnect(client, timeout)
                raise
            self._client = client
        return self._client

    async def _execute(
        self, command: str, arguments: Mapping[str, object] | None, timeout: float
    ) -> Any:
        import asyncio

        client = await self._connected(timeout)
        return await asyncio.wait_for(client.execute(command, arguments), timeout)

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._runner is not None:
            self._runner.run(_disconnect(client, self.timeout))

    def close(self) -> None:
        """Disconnect (when connected) and close the private event loop."""
        self._drop()
        if self._runner is not None:
            self._runner.close()
            self._runner = None


async def _disconnect(client: QMPClient, timeout: float) -> None:
    import asyncio

    from qemu.qmp import QMPError

    with contextlib.suppress(QMPError, OSError, EOFError, TimeoutError):
        await asyncio.wait_for(client.disconnect(), timeout)


def status_of(result: object) -> str:
    """The run state a ``query-status`` reply names, ``unknown`` when it names none."""
    return reply_status(result) or "unknown"
