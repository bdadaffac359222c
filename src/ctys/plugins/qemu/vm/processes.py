"""Find running QEMU processes in the process table (any user), via psutil.

LIST shows VMs this tool did not start, so it looks at every process, not only ours.
Processes of other users may refuse some attributes; those are skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil

from ctys.pathutil import canonical_path
from ctys.plugins.qemu.vm.cmdline import QemuCmdline, is_qemu_binary, parse_qemu_cmdline


@dataclass(frozen=True)
class QemuProcess:
    """One running qemu: who runs it, since when, and what its command line says."""

    pid: int
    user: str | None
    create_time: float
    cmdline: QemuCmdline


def _looks_like_qemu(exe: str | None, argv: list[str] | None) -> bool:
    # argv[0] first: /proc/PID/exe of another user's process is often unreadable, and a
    # deleted-and-upgraded binary reads as "qemu-system-x86_64 (deleted)".
    if not argv:
        return False  # kernel threads (e.g. "kvm-pit/...") have no argv
    return is_qemu_binary(argv[0]) or (exe is not None and is_qemu_binary(exe))


def scan_qemu_processes() -> list[QemuProcess]:
    """Every qemu process on this host (``qemu-system-*``, ``qemu-kvm``, ``kvm``), sorted by
    pid. Processes that vanish or refuse access while being read are left out.

    Only argv and the process name are read for every process; owner and start time only
    for the qemu ones (this runs before every CREATE, so it must stay cheap)."""
    found: list[QemuProcess] = []
    for proc in psutil.process_iter(["cmdline", "name"], ad_value=None):
        argv = proc.info.get("cmdline")
        if not argv or not (
            _looks_like_qemu(None, argv) or is_qemu_binary(proc.info["name"] or "")
        ):
            continue
        try:
            user: str | None = proc.username()
        except (psutil.AccessDenied, KeyError):
            user = None
        except psutil.NoSuchProcess:
            continue
        try:
            created = proc.create_time()
        except psutil.Error:
            continue
        found.append(QemuProcess(proc.pid, user, created, parse_qemu_cmdline(argv)))
    found.sort(key=lambda p: p.pid)
    return found


def read_qemu_process(pid: int) -> QemuProcess | None:
    """The qemu running as ``pid``, or ``None`` when there is none (gone, not a qemu, or
    not readable)."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            argv = proc.cmdline()
            try:
                exe: str | None = proc.exe()
            except psutil.AccessDenied:
                exe = None
            if not _looks_like_qemu(exe, argv):
                return None
            try:
                user: str | None = proc.username()
            except (psutil.AccessDenied, KeyError):
                user = None
            return QemuProcess(pid, user, proc.create_time(), parse_qemu_cmdline(argv))
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    except ValueError:  # pid <= 0
        return None


def references_dir(process: QemuProcess, runtime_vm_dir: Path) -> bool:
    """True when the process's command line names ``runtime_vm_dir`` or a file in it
    (compared both as given and with symlinks resolved)."""
    candidates = {str(runtime_vm_dir)}
    candidates.add(str(canonical_path(runtime_vm_dir)))
    return any(process.cmdline.references(c) for c in candidates)
