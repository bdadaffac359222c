"""CREATE=<address>,RESUME of a suspended VM (CANCEL=...,SUSPEND|S4): start its qemu
through CREATE's one start sequence with the saved state (``-loadvm S4`` for a snapshot,
``-incoming defer`` then the state file handed over QMP), and let it run on where it was.

The only hook into the start sequence is the request's extra qemu arguments: the VM is
started exactly as CREATE starts it, with the console it had when it was saved."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TextIO

from ctys.consoles.kinds import ConsoleKind
from ctys.errors import VmStateError
from ctys.plugins.qemu.actions.startseq import DAEMONIZED, start_vm
from ctys.plugins.qemu.actions.suspend import SavedHow, SavedState, discard_saved, note_path
from ctys.plugins.qemu.requests import CreateRequest
from ctys.plugins.qemu.vm import savestate, snapshots
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import RuntimeDir
from ctys.plugins.qemu.vmconfig import VmConfig

LOAD_TIMEOUT = 300.0


def restore_args(saved: SavedState) -> tuple[str, ...]:
    """The qemu arguments that start the VM from its saved state."""
    if saved.how is SavedHow.SNAPSHOT:
        return ("-loadvm", snapshots.SNAPSHOT_TAG)
    return ("-incoming", "defer")


def check_disks_unchanged(saved: SavedState) -> None:
    """A saved state holds the guest's view of its disks: refuse to load it over disks
    that changed since (a file's state would corrupt the guest's filesystems; a snapshot
    would roll back, unasked, what a boot without RESUME wrote)."""
    for path, size, mtime_ns in saved.disks:
        try:
            st = Path(path).stat()
        except OSError:
            raise VmStateError(
                f"VM {saved.label}: its disk {path} is gone since CANCEL SUSPEND; cannot resume"
            ) from None
        if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
            raise VmStateError(
                f"VM {saved.label}: its disk {path} changed since CANCEL SUSPEND (booted"
                " without RESUME?); loading the saved state would corrupt or roll it back. Remove"
                f" {note_path(Path(saved.conf))} to boot it afresh"
            )
    if saved.state_file and not Path(saved.state_file).exists():
        raise VmStateError(f"VM {saved.label}: its saved state {saved.state_file} is missing")


def _console(saved: SavedState) -> ConsoleKind:
    try:
        kind = ConsoleKind(saved.console)
    except ValueError:
        return ConsoleKind.CLI
    # A terminal-bound console cannot come back without its terminal: the serial socket.
    return ConsoleKind.CLI if kind is ConsoleKind.CLI0 else kind


def restore_vm(
    vm: VmConfig, saved: SavedState, req: CreateRequest, runtime: RuntimeDir, out: TextIO
) -> int:
    """Start ``vm`` from ``saved`` and let it run; the note (and state file) are removed
    once the guest runs again. A failed load leaves them for another try."""
    check_disks_unchanged(saved)
    started_at = time.monotonic()
    restart = dataclasses.replace(
        req, resume=False, console=_console(saved), argsadd=(*req.argsadd, *restore_args(saved))
    )
    started = start_vm(vm, restart, runtime, DAEMONIZED)
    with started.handle as handle:
        if saved.how is SavedHow.FILE:
            assert saved.state_file is not None
            savestate.load_from_file(handle, Path(saved.state_file), LOAD_TIMEOUT)
        if handle.status(timeout=3.0) is not RunState.RUNNING:
            handle.resume()
        if saved.how is SavedHow.SNAPSHOT:
            savestate.delete_snapshot(handle)
    discard_saved(vm.conf_path, saved)
    seconds = time.monotonic() - started_at
    print(
        f"{vm.label}: resumed from its saved state (pid {started.record.pid};"
        f" console {started.rundir.console}; {seconds:.1f}s)",
        file=out,
    )
    return 0
