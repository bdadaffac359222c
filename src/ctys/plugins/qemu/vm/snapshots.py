"""Internal snapshots of a VM's qcow2 disks, the one place ctys talks to QEMU about them:
a running VM through QMP jobs (``snapshot-save``/``-load``/``-delete``, waited for with
``query-jobs`` and dismissed), the snapshots it holds from ``query-block``. Stopped VMs
(``qemu-img snapshot``) are ``vm.snapimg``; both describe snapshots as ``Snapshot``.

CANCEL SUSPEND|S4 (``vm.savestate``) keeps its state as the snapshot ``S4`` and uses the
disk checks here; SNAPSHOT LIST shows it like any other."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ctys.errors import VmError
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.qmp import DEFAULT_TIMEOUT

#: The snapshot tag the original's S4 used (``savevm S4``, ``loadvm S4``, ``delvm S4``).
SNAPSHOT_TAG = "S4"
_POLL = 0.1


class SnapshotFailed(VmError):
    """QEMU could not take, load or delete a snapshot (its words, one line)."""


@dataclass(frozen=True)
class Snapshot:
    """One internal snapshot as qcow2 keeps it (``qemu-img info`` / ``query-block``)."""

    tag: str
    id: str
    vm_state_size: int  # bytes of RAM and device state; 0: disks only (qemu-img -c)
    date: float  # when it was taken, seconds since the epoch
    vm_clock: float  # the guest's clock then, seconds since it booted
    disks: int = 1  # on how many of the VM's disks it is


def _number(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_snapshots(items: object) -> tuple[Snapshot, ...]:
    """The ``snapshots`` list of ``qemu-img info --output=json`` or of a ``query-block``
    image (the same QAPI ``SnapshotInfo``); entries that are not snapshots are skipped."""
    if not isinstance(items, list):
        return ()
    found = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        found.append(
            Snapshot(
                tag=item["name"],
                id=str(item.get("id", "")),
                vm_state_size=_number(item, "vm-state-size"),
                date=_number(item, "date-sec") + _number(item, "date-nsec") / 1e9,
                vm_clock=_number(item, "vm-clock-sec") + _number(item, "vm-clock-nsec") / 1e9,
            )
        )
    return tuple(found)


def merge_disks(per_disk: Iterable[Sequence[Snapshot]]) -> tuple[Snapshot, ...]:
    """One snapshot per tag over all disks of a VM, in the order first seen; the entry
    that holds the VM state wins (it lives on one disk), ``disks`` counts the disks."""
    merged: dict[str, Snapshot] = {}
    for snaps in per_disk:
        for snap in snaps:
            old = merged.get(snap.tag)
            if old is None:
                merged[snap.tag] = snap
                continue
            best = snap if snap.vm_state_size > old.vm_state_size else old
            merged[snap.tag] = Snapshot(
                best.tag, best.id, best.vm_state_size, best.date, best.vm_clock, old.disks + 1
            )
    return tuple(merged.values())


@dataclass(frozen=True)
class BlockNode:
    """A disk of a running VM as ``query-block`` shows it."""

    node: str  # the format node's name (snapshot-save's ``devices``/``vmstate``)
    file: str
    drv: str
    ro: bool
    snapshots: tuple[Snapshot, ...] = ()


def block_nodes(devices: object) -> list[BlockNode]:
    """The disks with a medium in a ``query-block`` reply."""
    nodes = []
    for dev in devices if isinstance(devices, list) else []:
        inserted = dev.get("inserted") if isinstance(dev, dict) else None
        if not isinstance(inserted, dict):
            continue
        image = inserted.get("image")
        nodes.append(
            BlockNode(
                node=str(inserted.get("node-name", "")),
                file=str(inserted.get("file", "")),
                drv=str(inserted.get("drv", "")),
                ro=bool(inserted.get("ro")),
                snapshots=parse_snapshots(
                    image.get("snapshots") if isinstance(image, dict) else None
                ),
            )
        )
    return nodes


def snapshot_disks(nodes: Sequence[BlockNode]) -> list[BlockNode]:
    """The writable disks a snapshot covers; ``SnapshotFailed`` naming the first disk that
    cannot hold one (raw, ...: QEMU refuses a snapshot when any writable disk cannot),
    or when the VM has no writable disk at all."""
    writable = [n for n in nodes if not n.ro]
    if not writable:
        raise SnapshotFailed("it has no writable disk to keep a snapshot in")
    for node in writable:
        if node.drv != "qcow2":
            raise SnapshotFailed(
                f"its disk {node.file} is {node.drv or 'of unknown format'}: only qcow2 disks"
                " hold snapshots (convert it: qemu-img convert -O qcow2)"
            )
    return writable


def snapshot_capable(handle: VmHandle) -> bool:
    """Whether every writable disk of the running VM is qcow2 (and there is one)."""
    try:
        snapshot_disks(block_nodes(handle.query("query-block")))
    except SnapshotFailed:
        return False
    return True


def running_snapshots(handle: VmHandle) -> tuple[Snapshot, ...]:
    """The snapshots the running VM's writable disks hold, one per tag."""
    nodes = [n for n in block_nodes(handle.query("query-block")) if not n.ro]
    return merge_disks(n.snapshots for n in nodes)


def job_arguments(
    kind: str, job_id: str, tag: str, nodes: Sequence[BlockNode]
) -> dict[str, object]:
    """The arguments of ``snapshot-<kind>`` (save, load, delete) over ``nodes``; the VM
    state goes to (and comes from) the first disk."""
    args: dict[str, object] = {"job-id": job_id, "tag": tag, "devices": [n.node for n in nodes]}
    if kind != "delete":
        args["vmstate"] = nodes[0].node
    return args


def job_outcome(jobs: object, job_id: str) -> tuple[str, str | None] | None:
    """(status, error) of ``job_id`` in a ``query-jobs`` reply; ``None`` when absent."""
    for job in jobs if isinstance(jobs, list) else []:
        if isinstance(job, dict) and job.get("id") == job_id:
            error = job.get("error")
            return str(job.get("status", "")), str(error) if error else None
    return None


def _answer(deadline: float) -> float:
    """How long a command may wait for the monitor while a snapshot job runs: the job
    writes RAM and disks in QEMU's main loop, so the monitor answers only when it is done
    (a guest of a few GiB: many seconds). Up to the job's deadline, and never less than a
    monitor's usual answer time."""
    return max(deadline - time.monotonic(), DEFAULT_TIMEOUT)


def run_job(handle: VmHandle, kind: str, tag: str, timeout: float) -> None:
    """Run ``snapshot-<kind>`` of ``tag`` over the VM's writable disks, wait for the job to
    conclude, dismiss it; its error is one ``SnapshotFailed`` line."""
    nodes = snapshot_disks(block_nodes(handle.query("query-block")))
    job_id = f"ctys-snapshot-{kind}-{time.monotonic_ns()}"
    deadline = time.monotonic() + timeout
    handle.command(
        f"snapshot-{kind}", job_arguments(kind, job_id, tag, nodes), timeout=_answer(deadline)
    )
    while True:
        outcome = job_outcome(handle.query("query-jobs", timeout=_answer(deadline)), job_id)
        if outcome is None:
            raise SnapshotFailed(f"snapshot-{kind} {tag}: the job vanished")
        status, error = outcome
        if status == "concluded":
            handle.command("job-dismiss", {"id": job_id})
            if error:
                raise SnapshotFailed(f"snapshot-{kind} {tag}: {' '.join(error.split())}")
            return
        if time.monotonic() >= deadline:
            raise SnapshotFailed(f"snapshot-{kind} {tag} took longer than {timeout:g}s")
        time.sleep(_POLL)
