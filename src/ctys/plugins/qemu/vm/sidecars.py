"""Helper daemons a VM's runtime folder owns (the virtiofsd of each shared folder).

A sidecar ``<name>`` has ``<name>.pid`` beside its socket ``<name>.sock`` in the VM's
folder, and its command line names that socket: a pid file whose pid was recycled by
another process is no match. ``VmRuntimeDir.remove`` stops what is left of them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from ctys.plugins.qemu.vm.lifecycle import wait_exit
from ctys.plugins.qemu.vm.processes import pidfile_process

_STOP_TIMEOUT = 3.0
#: The sidecars' pid files in a VM folder (``fs<n>.pid``: shared folders).
PIDFILE_GLOB = "fs*.pid"


def sidecar_pid(pidfile: Path) -> int | None:
    """The living sidecar ``pidfile`` names, else ``None``."""
    found = pidfile_process(pidfile)
    if found is None:
        return None
    pid, argv = found
    socket = str(pidfile.with_suffix(".sock"))
    return pid if any(socket in arg for arg in argv) else None


def running_sidecars(rundir: Path) -> list[int]:
    """The pids of the living sidecars of a VM folder."""
    pids = (sidecar_pid(p) for p in sorted(rundir.glob(PIDFILE_GLOB)))
    return [pid for pid in pids if pid is not None]


def stop_sidecars(rundir: Path, *, timeout: float = _STOP_TIMEOUT) -> list[int]:
    """Stop the sidecars of a VM folder still running (SIGTERM, then SIGKILL after
    ``timeout``); the pids stopped."""
    pids = running_sidecars(rundir)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in pids:
        if not wait_exit(pid, max(0.0, deadline - time.monotonic())):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return pids
