"""The qemu processes and VDE switches of one test, found by a marker: its runtime dir.

Other qemus run on the host while the tests run — the README's demo VM, other developers'
tests, a qemu started by hand, even with the same labels as the tests' VMs. A test selects
its own by its runtime dir (or by pids it knows), never by label or by the whole table.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

import psutil


def live_processes(marker: str, is_program: Callable[[str], bool]) -> list[psutil.Process]:
    """The living (not zombie) processes whose program ``is_program`` and whose argv
    mentions ``marker``; each one's argv is in ``proc.info["cmdline"]``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if cmd and is_program(cmd[0]) and any(marker in arg for arg in cmd):
            with contextlib.suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
    return found


def live_pids(marker: str, is_program: Callable[[str], bool]) -> list[int]:
    """Pids of ``live_processes(marker, is_program)``."""
    return [proc.pid for proc in live_processes(marker, is_program)]


def is_qemu(program: str) -> bool:
    """Whether ``program`` (argv[0]) is a qemu system emulator."""
    return "qemu-system" in program


def live_qemus(marker: str) -> list[psutil.Process]:
    """The living qemu processes whose argv mentions ``marker``."""
    return live_processes(marker, is_qemu)


def live_qemu_pids(marker: str) -> list[int]:
    """Pids of the living (not zombie) qemu processes whose argv mentions ``marker``."""
    return live_pids(marker, is_qemu)


def kill_qemus(marker: str) -> None:
    """SIGKILL every qemu whose command line mentions ``marker`` (a runtime dir)."""
    for pid in live_qemu_pids(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def live_switch_pids(marker: str) -> list[int]:
    """Pids of the living ``vde_switch`` daemons whose argv mentions ``marker``."""
    return live_pids(marker, lambda program: Path(program).name == "vde_switch")


def kill_switches(marker: str) -> None:
    """SIGKILL every vde_switch whose command line mentions ``marker`` (a runtime dir)."""
    for pid in live_switch_pids(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
