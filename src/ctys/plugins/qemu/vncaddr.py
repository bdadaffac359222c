"""Where a qemu's VNC server really listens: from a runtime record, from QMP ``query-vnc``,
or (for qemus ctys did not start) from the command line, asking QMP where the command line
cannot tell. What LIST shows in its VNC column; small, so LIST imports little."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # The command-line parser loads with the first VM (a QemuProcess holds its result).
    from ctys.plugins.qemu.vm.cmdline import VncSpec
    from ctys.plugins.qemu.vm.handle import VmHandle
    from ctys.plugins.qemu.vm.processes import QemuProcess
    from ctys.plugins.qemu.vm.runtime import RuntimeRecord

_FOREIGN_WORKERS = 8


def query_vnc(vm: VmHandle, timeout: float = 3.0) -> VncSpec | None:
    """Where QEMU's VNC server really listens (QMP ``query-vnc`` on ``vm``'s connection:
    QEMU's QMP socket serves one client at a time, so the caller's handle asks): the
    display it picked from a ``to=N`` range, or its UNIX socket; ``None`` when QMP does not
    tell (no answer, or the command failed)."""
    from ctys.plugins.qemu.vm.cmdline import VncSpec
    from ctys.plugins.qemu.vm.qmp import QmpError

    try:
        info = vm.query("query-vnc", timeout)
    except QmpError:
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
    from ctys.plugins.qemu.vm.cmdline import VncSpec

    if record.vnc_socket:
        return VncSpec(unix_path=record.vnc_socket)
    if record.vnc_display is not None:
        return VncSpec(host=record.vnc_host, display=record.vnc_display)
    return None


def foreign_vnc_columns(procs: Sequence[QemuProcess], timeout: float) -> list[str | None]:
    """LIST's VNC column of qemus ctys did not start. A ``to=N`` range on the command line
    does not say which display QEMU took: the QMP socket the command line names is asked
    (in parallel, one ``timeout`` for all); when it does not answer, the range is shown."""

    def column(proc: QemuProcess) -> str | None:
        cmd = proc.cmdline
        spec = cmd.vnc
        if spec is not None and spec.last_display is not None and cmd.qmp_socket:
            from ctys.plugins.qemu.vm.handle import VmHandle

            with VmHandle.attach_foreign(proc.pid, qmp=Path(cmd.qmp_socket)) as vm:
                spec = query_vnc(vm, timeout) or spec
        return str(spec) if spec is not None else None

    ranged = [p for p in procs if p.cmdline.vnc and p.cmdline.vnc.last_display is not None]
    if len(ranged) < 2:
        return [column(p) for p in procs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(_FOREIGN_WORKERS, len(procs))) as pool:
        return list(pool.map(column, procs))
