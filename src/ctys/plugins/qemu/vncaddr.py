"""Where a qemu's VNC server really listens: from a runtime record, from QMP ``query-vnc``,
or (for qemus ctys did not start) from the command line, asking QMP where the command line
cannot tell. What LIST shows in its VNC column; small, so LIST imports little."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ctys.plugins.qemu.vm.cmdline import QemuCmdline, VncSpec
from ctys.plugins.qemu.vm.qmp import QmpUnavailable, qmp_execute
from ctys.plugins.qemu.vm.runtime import RuntimeRecord

_FOREIGN_WORKERS = 8


def query_vnc(
    qmp: Path, timeout: float = 3.0, execute: Callable[[str, float], Any] | None = None
) -> VncSpec | None:
    """Where QEMU's VNC server really listens (QMP ``query-vnc``): the display it picked
    from a ``to=N`` range, or its UNIX socket; ``None`` when QMP does not tell.
    ``execute(command, timeout)`` runs the command on a connection the caller already
    holds: QEMU's QMP socket serves one client at a time, so a second one would wait."""
    try:
        if execute is not None:
            info = execute("query-vnc", timeout)
        else:
            info = qmp_execute(qmp, "query-vnc", timeout=timeout)
    except QmpUnavailable:
        return None
    if not isinstance(info, dict) or not info.get("enabled"):
        return None
    service = str(info.get("service", ""))
    if info.get("family") == "unix":
        return VncSpec(unix_path=service) if service else None
    try:
        return VncSpec(host=str(info.get("host", "")), display=int(service) - 5900)
    except ValueError:
        return None


def record_vnc(record: RuntimeRecord) -> VncSpec | None:
    """The VNC server of a managed VM as its record names it (LIST's VNC column)."""
    if record.vnc_socket:
        return VncSpec(unix_path=record.vnc_socket)
    if record.vnc_display is not None:
        return VncSpec(host=record.vnc_host, display=record.vnc_display)
    return None


def foreign_vnc_columns(cmds: Sequence[QemuCmdline], timeout: float) -> list[str | None]:
    """LIST's VNC column of qemus ctys did not start. A ``to=N`` range on the command line
    does not say which display QEMU took: the QMP socket the command line names is asked
    (in parallel, one ``timeout`` for all); when it does not answer, the range is shown."""

    def column(cmd: QemuCmdline) -> str | None:
        spec = cmd.vnc
        if spec is not None and spec.last_display is not None and cmd.qmp_socket:
            spec = query_vnc(Path(cmd.qmp_socket), timeout) or spec
        return str(spec) if spec is not None else None

    ranged = [c for c in cmds if c.vnc is not None and c.vnc.last_display is not None]
    if len(ranged) < 2:
        return [column(c) for c in cmds]
    with ThreadPoolExecutor(max_workers=min(_FOREIGN_WORKERS, len(cmds))) as pool:
        return list(pool.map(column, cmds))
