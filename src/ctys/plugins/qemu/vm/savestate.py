"""A VM's full state saved and loaded through its monitor (CANCEL SUSPEND|S4 and
CREATE RESUME): an internal snapshot ``S4`` in its qcow2 disks (the original's
``savevm``/``loadvm``, as QMP snapshot jobs: ``vm.snapshots``), or a migration stream into
a file ctys opened and hands qemu (``fd:``; never ``exec:``, which runs a shell) when a
writable disk cannot hold snapshots (raw) or the VM has no disk at all."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.vm import snapshots
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.qmp import QmpCommandFailed
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.snapshots import SNAPSHOT_TAG

_FD_NAME = "ctys-state"
_POLL = 0.1


class SaveFailed(VmError):
    """QEMU could not save or load the VM's state."""


def save_snapshot(handle: VmHandle, timeout: float) -> None:
    """Snapshot ``S4``: RAM, devices and disks into the qcow2 files (the original's
    ``savevm S4``; here the same QMP job as SNAPSHOT CREATE, ``vm.snapshots``). An old
    ``S4`` is deleted first (it would be kept beside); ``SaveFailed`` with QEMU's words."""
    try:
        if any(s.tag == SNAPSHOT_TAG for s in snapshots.running_snapshots(handle)):
            snapshots.run_job(handle, "delete", SNAPSHOT_TAG, timeout)
        snapshots.run_job(handle, "save", SNAPSHOT_TAG, timeout)
    except snapshots.SnapshotFailed as exc:
        raise SaveFailed(str(exc)) from exc


def delete_snapshot(handle: VmHandle, timeout: float = 30.0) -> None:
    """Delete ``S4`` once the VM runs from it again (the original did the same)."""
    try:
        snapshots.run_job(handle, "delete", SNAPSHOT_TAG, timeout)
    except snapshots.SnapshotFailed as exc:
        raise SaveFailed(str(exc)) from exc


def save_to_file(handle: VmHandle, path: Path, timeout: float) -> None:
    """Migrate the (paused) VM into ``path`` (created 0600) and wait until qemu has
    written all of it; ``SaveFailed`` when the migration fails or outlasts ``timeout``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        handle.send_fd(fd, _FD_NAME)
    finally:
        os.close(fd)  # qemu holds its own copy now
    try:
        handle.command("migrate", {"uri": f"fd:{_FD_NAME}"})
    except QmpCommandFailed as exc:  # e.g. a virtiofs share: a non-migratable device
        raise SaveFailed(f"cannot save the state to {path}: {exc.desc}") from exc
    deadline = time.monotonic() + timeout
    while True:
        info = handle.query("query-migrate")
        status = info.get("status") if isinstance(info, dict) else None
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise SaveFailed(f"migration to {path} {status}: {info.get('error-desc', '')}")
        if time.monotonic() >= deadline:
            handle.command("migrate_cancel")
            raise SaveFailed(f"saving the state to {path} took longer than {timeout:g}s")
        time.sleep(_POLL)


def load_from_file(handle: VmHandle, path: Path, timeout: float) -> None:
    """Feed ``path`` to a qemu started with ``-incoming defer`` and wait until the VM has
    left the incoming state; ``SaveFailed`` when it cannot load it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        handle.send_fd(fd, _FD_NAME)
    finally:
        os.close(fd)
    handle.command("migrate-incoming", {"uri": f"fd:{_FD_NAME}"})
    deadline = time.monotonic() + timeout
    while True:
        state = handle.status(timeout=3.0)
        if state not in (RunState.INMIGRATE, RunState.RESTORE_VM, None):
            return
        if not handle.alive():
            raise SaveFailed(f"qemu ended while loading {path} (see its qemu.log)")
        if time.monotonic() >= deadline:
            raise SaveFailed(f"loading the state from {path} took longer than {timeout:g}s")
        time.sleep(_POLL)
