"""A running VM as the original's 22-field LIST record (``ctys.formats.listfields``).

What QEMU puts in each field, after the original's QEMU plugin (``list.sh``,
``qemulst01.awk``): PM this host, TYPE ``QEMU``, ID the conf file, TCP the guest's
address, DISPLAY/CPORT the VNC display and its TCP port (empty for ctys' private VNC
socket), SPORT the monitor socket (QMP), UID/GID the user and group of the qemu process,
CSTYPE ``SERVER``, JOBID the runtime ID of a VM ctys started, EXECPATH the qemu binary,
HYPERRELRUN ``qemu-<version>`` of that binary, ACCELERATOR KVM or TCG, ARCH the target
arch from the binary's name. IFNAME, RESERVED and CONTEXTSTRG stay empty, as there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from ctys.errors import CtysError
from ctys.plugins.qemu.actions.list import VmEntry

SESSION_TYPE = "QEMU"
_PORT = re.compile(r":(\d+)$")
_VNC_BASE = 5900


def list_rows(
    entries: Sequence[VmEntry], wanted: Collection[str], host: str
) -> list[dict[str, object]]:
    """Each entry as one row: ctys' fields and the original's record (``wanted``: the
    fields printed, so the costly ones are filled only when asked for)."""
    return [{**e.row(), **original_fields(e, host, wanted)} for e in entries]


def original_fields(entry: VmEntry, host: str, wanted: Collection[str]) -> dict[str, object]:
    """The 22 fields of ``entry`` (``host``: the PM field). HYPERRELRUN and GID, which cost
    a probe of the binary / the process, are filled only when ``wanted`` names them."""
    display, cport = vnc_ports(entry.vnc)
    binary = executable(entry.binary)
    return {
        "PM": host,
        "TYPE": SESSION_TYPE,
        "LABEL": entry.label,
        "ID": str(entry.conf) if entry.conf else None,
        "UUID": entry.uuid,
        "MAC": entry.mac,
        "TCP": entry.address,
        "DISPLAY": display,
        "CPORT": cport,
        "SPORT": str(entry.qmp) if entry.qmp else None,
        "PID": entry.pid if entry.running else None,
        "UID": entry.user,
        "GID": process_group(entry.pid) if "GID" in wanted and entry.running else None,
        "CSTYPE": "SERVER",
        "JOBID": entry.vmid if entry.managed else None,
        "IFNAME": None,
        "RESERVED": None,
        "CONTEXTSTRG": None,
        "EXECPATH": binary,
        "HYPERRELRUN": hypervisor_release(binary) if "HYPERRELRUN" in wanted else None,
        "ACCELERATOR": (entry.accelerator or "").upper() or None,
        "ARCH": binary_arch(entry.binary),
    }


def vnc_ports(vnc: str | None) -> tuple[int | None, int | None]:
    """The VNC display and TCP port of LIST's VNC column (``127.0.0.1:5901`` → (1, 5901));
    none for a UNIX socket or a display range."""
    if not vnc or vnc.startswith("unix:"):
        return None, None
    match = _PORT.search(vnc)
    if match is None:
        return None, None
    port = int(match.group(1))
    return (port - _VNC_BASE if port >= _VNC_BASE else None), port


def executable(binary: str) -> str | None:
    """The binary's full path (the original's ``gwhich``), as given when not on PATH."""
    if not binary:
        return None
    if "/" in binary:
        return binary
    import shutil

    return shutil.which(binary) or binary


def binary_arch(binary: str) -> str | None:
    """The target arch of the binary (``qemu-system-<arch>``; ``kvm``: this host's)."""
    from ctys.plugins.qemu.host.archname import arch_of_name

    if not binary:
        return None
    return arch_of_name(Path(binary).name)[0] or None


def process_group(pid: int) -> str | None:
    """The group name of process ``pid`` (its number when it has no name)."""
    import grp  # only when GID is printed

    from ctys.plugins.qemu.vm.processes import process_gid

    gid = process_gid(pid)
    if gid is None:
        return None
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@functools.cache
def hypervisor_release(binary: str | None) -> str | None:
    """``qemu-<version>`` of ``binary`` (the capability cache, probed once when new)."""
    if not binary:
        return None
    from ctys.plugins.qemu.host.capcache import CapCache
    from ctys.plugins.qemu.host.detect import cached_capabilities

    cache = CapCache()
    try:
        caps = cached_capabilities(Path(binary), cache)
    except (CtysError, OSError):
        return None
    cache.save()
    return f"qemu-{caps.version}"
