"""The virtiofsd daemons of one VM: started by CREATE before qemu, gone with the VM.

Each daemon's socket, pid and log are in the VM's 0700 runtime folder (``fs<n>.sock``,
``fs<n>.pid``, ``fs<n>.log``). A daemon serves one qemu and exits when that qemu
disconnects (the VM powered off, was cancelled or killed); whatever is left when the
folder is removed (a start that failed before qemu connected) is stopped by
``VmRuntimeDir.remove`` (``ctys.plugins.qemu.vm.sidecars``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.shares.shareargv import (
    HostShareTools,
    SharePlan,
    daemon_log,
    daemon_pidfile,
    daemon_socket,
    virtiofsd_argv,
)
from ctys.plugins.qemu.shares.shareconf import Transport
from ctys.plugins.qemu.vm.sidecars import stop_sidecars
from ctys.textescape import one_line

_START_TIMEOUT = 10.0


def start_daemons(plans: Sequence[SharePlan], rundir: Path, tools: HostShareTools) -> list[int]:
    """Start a virtiofsd for every virtiofs share and wait until each listens; the pids.
    On failure the ones started are stopped and ``VmError`` names the share and the
    daemon's last log line."""
    pids: list[int] = []
    try:
        for plan in plans:
            if plan.transport is Transport.VIRTIOFS:
                pids.append(_start(plan, rundir, tools))
    except BaseException:
        stop_sidecars(rundir)
        raise
    return pids


def _start(plan: SharePlan, rundir: Path, tools: HostShareTools) -> int:
    share = plan.share
    socket = daemon_socket(rundir, share)
    log = daemon_log(rundir, share)
    argv = virtiofsd_argv(share, rundir, tools)
    with contextlib.suppress(FileNotFoundError):
        socket.unlink()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        # Its own session: the Ctrl-C that ends ctys does not end it; it ends with qemu.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                                start_new_session=True)  # fmt: skip
    except OSError as err:
        raise VmError(f"{share.key}: cannot start {argv[0]}: {err.strerror or err}") from err
    finally:
        os.close(fd)
    pidfile = daemon_pidfile(rundir, share)
    fd = os.open(pidfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{proc.pid}\n")
    deadline = time.monotonic() + _START_TIMEOUT
    while not socket.exists():
        if proc.poll() is not None:
            raise VmError(f"{share.key}: virtiofsd for {share.hostdir} failed: {_last_line(log)}")
        if time.monotonic() >= deadline:
            raise VmError(f"{share.key}: virtiofsd for {share.hostdir} did not come up")
        time.sleep(0.01)
    return proc.pid


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    return one_line(lines[-1]) if lines else "no output"
