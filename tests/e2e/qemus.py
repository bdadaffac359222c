"""Finding and killing the qemu processes of one test (by a marker: its runtime dir)."""

from __future__ import annotations

import contextlib
import os
import signal

import psutil


def live_qemu_pids(marker: str) -> list[int]:
    """Pids of the living (not zombie) qemu processes whose argv mentions ``marker``."""
    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if cmd and "qemu-system" in cmd[0] and any(marker in arg for arg in cmd):
            with contextlib.suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    pids.append(proc.pid)
    return pids


def kill_qemus(marker: str) -> None:
    """SIGKILL every qemu whose command line mentions ``marker`` (a runtime dir)."""
    for pid in live_qemu_pids(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
