"""CANCEL=...,SUSPEND|S4: save the VM's full state and end its qemu; the saved state is
described by a private note in the VM's folder (``<conf stem>.S4.json``), which
``CREATE=...,RESUME`` (``actions.restore``) finds and consumes.

Two ways to save (``vm.savestate``): an internal ``savevm S4`` snapshot when every writable
disk is qcow2 (the original's way), else a migration stream into ``<conf stem>.S4.vmstate``
beside the conf. A saved state is only valid against the disks as they were: their size
and mtime are noted, and a restore refuses disks that changed since (a file-saved state
would corrupt them; a snapshot would silently roll back what a fresh boot wrote).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ctys.errors import CtysError, VmStateError
from ctys.plugins.qemu.vm import savestate, snapshots
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.privfile import write_private_text

#: How long qemu may take to write the state (RAM size / disk speed; TCG guests are small).
SAVE_TIMEOUT = 300.0


class SavedHow(Enum):
    SNAPSHOT = "snapshot"  # savevm S4 inside the qcow2 disks
    FILE = "file"  # a migration stream in the VM folder


@dataclass(frozen=True)
class SavedState:
    """The note a SUSPEND leaves in the VM's folder."""

    how: SavedHow
    label: str
    conf: str
    console: str
    saved: float
    state_file: str | None = None  # FILE: the stream's path
    disks: tuple[tuple[str, int, int], ...] = ()  # (path, size, mtime_ns) after the save

    def to_json(self) -> str:
        data = {
            "how": self.how.value,
            "label": self.label,
            "conf": self.conf,
            "console": self.console,
            "saved": self.saved,
            "state_file": self.state_file,
            "disks": [list(d) for d in self.disks],
        }
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SavedState:
        data = json.loads(text)
        return cls(
            how=SavedHow(data["how"]),
            label=str(data["label"]),
            conf=str(data["conf"]),
            console=str(data["console"]),
            saved=float(data["saved"]),
            state_file=data.get("state_file"),
            disks=tuple((str(p), int(s), int(m)) for p, s, m in data.get("disks", [])),
        )


def note_path(conf: Path) -> Path:
    """Where the note of ``conf``'s saved state lives: beside the conf."""
    return conf.with_name(f"{conf.stem}.{snapshots.SNAPSHOT_TAG}.json")


def state_path(conf: Path) -> Path:
    """Where a file-saved state goes: beside the conf, in the VM folder."""
    return conf.with_name(f"{conf.stem}.{snapshots.SNAPSHOT_TAG}.vmstate")


def read_saved(conf: Path) -> SavedState | None:
    """The saved state of the VM of ``conf``; ``None`` when it has none. A note that
    cannot be read is an error naming it (it is never silently ignored)."""
    path = note_path(conf)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CtysError(f"cannot read the saved state {path}: {exc.strerror}") from exc
    try:
        return SavedState.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise CtysError(f"the saved state {path} is damaged ({exc}); remove it to boot") from exc


def discard_saved(conf: Path, saved: SavedState) -> None:
    """Remove the note and a state file (a snapshot is deleted by the restore itself)."""
    if saved.state_file:
        with contextlib.suppress(FileNotFoundError):
            Path(saved.state_file).unlink()
    with contextlib.suppress(FileNotFoundError):
        note_path(conf).unlink()


def disk_stamps(paths: list[str]) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime_ns) of each disk file that exists."""
    stamps = []
    for path in paths:
        with contextlib.suppress(OSError):
            st = Path(path).stat()
            stamps.append((path, st.st_size, st.st_mtime_ns))
    return tuple(stamps)


def _writable_disks(handle: VmHandle) -> list[str]:
    nodes = snapshots.block_nodes(handle.query("query-block"))
    return [n.file for n in nodes if not n.ro and n.file]


def suspend_vm(handle: VmHandle, conf: Path, label: str, console: str) -> str:
    """Pause the VM, save its full state, leave the note, end its qemu (``quit``: the
    disks are flushed) and stamp its disks in the note; what CANCEL prints. A save or a
    note that fails (e.g. a read-only VM folder) leaves the VM paused and running (nothing
    is lost), and says so."""
    if read_saved(conf) is not None:
        raise VmStateError(
            f"VM {label} has a saved state already ({note_path(conf)}); resume it first"
        )
    started = time.monotonic()
    if handle.status(timeout=3.0) is RunState.RUNNING:
        handle.pause()
    disks = _writable_disks(handle)
    try:
        if snapshots.snapshot_capable(handle):
            how, where = SavedHow.SNAPSHOT, None
            savestate.save_snapshot(handle, SAVE_TIMEOUT)
        else:
            how, where = SavedHow.FILE, state_path(conf)
            savestate.save_to_file(handle, where, SAVE_TIMEOUT)
        saved = SavedState(
            how=how,
            label=label,
            conf=str(conf),
            console=console,
            saved=time.time(),
            state_file=str(where) if where else None,
        )
        # Written before qemu ends: a note that cannot be written must not cost the VM.
        write_private_text(note_path(conf), saved.to_json())
    except (savestate.SaveFailed, OSError) as exc:
        why = exc if isinstance(exc, savestate.SaveFailed) else f"{exc.filename}: {exc.strerror}"
        raise VmStateError(f"VM {label}: {why}; it stays paused (RESUME continues it)") from exc
    stopped = handle.kill()
    saved = dataclasses.replace(saved, disks=disk_stamps(disks))
    with contextlib.suppress(OSError):  # without the stamps the restore only checks less
        write_private_text(note_path(conf), saved.to_json())
    place = f"snapshot {snapshots.SNAPSHOT_TAG} in its qcow2 disk" if where is None else where
    seconds = time.monotonic() - started
    return (
        f"suspended: state saved ({place}), {stopped.how.value} ({seconds:.1f}s);"
        " CREATE=...,RESUME restores it"
    )
