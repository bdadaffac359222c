"""The pid files of the network daemons ctys runs (VDE switches, VDE links): which living
process a pid file names, checked by its program and its command line, so a recycled pid
is never taken for the daemon."""

from __future__ import annotations

from pathlib import Path

from ctys.plugins.qemu.vm.processes import pidfile_process, process_argv, process_running


def is_live_program(pid: int, program: str, marker: str) -> bool:
    """Whether ``pid`` is a living (not zombie) ``program`` whose argv holds ``marker``."""
    argv = (process_argv(pid) if process_running(pid) else None) or []
    return bool(argv) and Path(argv[0]).name == program and marker in argv


def live_pid(pidfile: Path, program: str, marker: str) -> int | None:
    """The pid in ``pidfile`` when it is a living ``program`` with ``marker`` in its argv."""
    found = pidfile_process(pidfile)
    if found is None:
        return None
    pid, argv = found
    return pid if Path(argv[0]).name == program and marker in argv else None
