"""SNAPSHOT=<address>[,CREATE:NAME|LIST|APPLY:NAME|DELETE:NAME]: internal snapshots of a
VM's qcow2 disks. A running VM is asked through QMP (``vm.snapshots``: RAM, devices and
disks, the guest goes on where it was); a stopped one through ``qemu-img snapshot`` on
every disk of its conf (``vm.snapimg``: disks only). Raw disks cannot hold snapshots and
are refused; a stopped VM's disk that another qemu holds is refused naming it.

A suspended VM (CANCEL SUSPEND keeps its state as snapshot ``S4`` and stamps its disks)
is listed like any other; changing its disks would make RESUME refuse them, so that
takes FORCE, and DELETE:S4,FORCE drops the suspended state with a warning."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import VmStateError
from ctys.inventory.settings import inventory_choice
from ctys.invocation import OutputFormat
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.find_running import RunningVm, find_running
from ctys.plugins.qemu.actions.suspend import discard_saved, read_saved
from ctys.plugins.qemu.boot.argv import disk_format
from ctys.plugins.qemu.snapreq import SnapOp, SnapshotRequest
from ctys.plugins.qemu.vm import snapimg, snapshots
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.imagelock import find_holder
from ctys.plugins.qemu.vm.runtime import RuntimeDir
from ctys.plugins.qemu.vm.snapshots import Snapshot
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.tables import render
from ctys.textescape import printable

#: How long QEMU may take to save or load a VM's state (RAM size / disk speed).
JOB_TIMEOUT = 300.0
FIELDS = ("TAG", "ID", "VMSTATE", "DATE", "VMCLOCK", "DISKS")
_VERBS = {SnapOp.CREATE: "created", SnapOp.APPLY: "applied", SnapOp.DELETE: "deleted"}
_QMP_JOBS = {SnapOp.CREATE: "save", SnapOp.APPLY: "load", SnapOp.DELETE: "delete"}


def _size(n: int) -> str:
    if n == 0:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover (the loop always returns)


def _clock(seconds: float) -> str:
    millis = int(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    return f"{hours:02d}:{rest // 60_000:02d}:{rest // 1000 % 60:02d}.{rest % 1000:03d}"


def snapshot_rows(snaps: tuple[Snapshot, ...], fmt: OutputFormat) -> list[dict[str, object]]:
    """LIST's rows: sizes, dates and clocks readable in a table and terse lines, plain
    numbers (bytes, epoch and guest seconds) in JSON."""
    if fmt is OutputFormat.JSON:
        return [
            {"TAG": s.tag, "ID": s.id, "VMSTATE": s.vm_state_size, "DATE": s.date,
             "VMCLOCK": s.vm_clock, "DISKS": s.disks}
            for s in snaps
        ]  # fmt: skip
    return [
        {"TAG": s.tag, "ID": s.id, "VMSTATE": _size(s.vm_state_size),
         "DATE": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.date)),
         "VMCLOCK": _clock(s.vm_clock), "DISKS": s.disks}
        for s in snaps
    ]  # fmt: skip


def check_op(op: SnapOp, name: str | None, existing: tuple[Snapshot, ...], label: str) -> None:
    """CREATE of a name that exists, APPLY/DELETE of one that does not: one clear error."""
    tags = {s.tag for s in existing}
    if op is SnapOp.CREATE and name in tags:
        raise VmStateError(f"VM {label} has a snapshot '{name}' already (DELETE:{name} first)")
    if op in (SnapOp.APPLY, SnapOp.DELETE) and name not in tags:
        have = ", ".join(sorted(tags)) or "none"
        raise VmStateError(f"VM {label} has no snapshot '{name}' (it has: {printable(have)})")


@dataclass(frozen=True)
class _Done:
    message: str


def _running(
    req: SnapshotRequest, running: RunningVm, ctx: RunContext
) -> tuple[Snapshot, ...] | _Done:
    label = running.record.label
    with VmHandle(
        running.pid, running.rundir.qmp, rundir=running.rundir, record=running.record
    ) as vm:
        existing = snapshots.running_snapshots(vm)
        if req.op is SnapOp.LIST:
            return existing
        check_op(req.op, req.name, existing, label)
        try:
            snapshots.snapshot_disks(snapshots.block_nodes(vm.query("query-block")))
        except snapshots.SnapshotFailed as exc:
            raise VmStateError(f"VM {label}: {exc}") from None
        assert req.name is not None
        kind = _QMP_JOBS[req.op]
        if ctx.invocation.dry_run:
            return _Done(f"would run QMP snapshot-{kind} {req.name} on VM {label}")
        started = time.monotonic()
        try:
            snapshots.run_job(vm, kind, req.name, JOB_TIMEOUT)
        except snapshots.SnapshotFailed as exc:
            raise VmStateError(f"VM {label}: {exc}") from None
        took = time.monotonic() - started
    how = "QMP, RAM and disks" if req.op is SnapOp.CREATE else "QMP"
    return _Done(
        f"VM {label}: snapshot {req.name} {_VERBS[req.op]} ({took:.1f}s; running VM: {how})"
    )


def _stopped_disks(vm: VmConfig, runtime: RuntimeDir) -> list[tuple[Path, tuple[Snapshot, ...]]]:
    """Every disk of the conf with its snapshots; refused when one is not qcow2."""
    if not vm.hdd:
        raise VmStateError(f"VM {vm.label} has no disk to keep a snapshot in")
    disks = []
    for disk in vm.hdd:
        if not disk.exists():
            raise VmStateError(f"VM {vm.label}: its disk {disk} does not exist")
        # The conf's format (its suffix) first: a raw disk's guest may have written what
        # probes as a qcow2 header.
        declared = disk_format(disk)
        fmt, snaps = snapimg.disk_info(disk)
        fmt = declared if declared not in (None, "qcow2") else fmt
        if fmt != "qcow2":
            raise VmStateError(
                f"VM {vm.label}: its disk {disk} is {fmt or 'of unknown format'}: only qcow2"
                " disks hold snapshots (convert it: qemu-img convert -O qcow2)"
            )
        disks.append((disk, snaps))
    return disks


def _stopped(
    req: SnapshotRequest, vm: VmConfig, runtime: RuntimeDir, ctx: RunContext
) -> tuple[Snapshot, ...] | _Done:
    disks = _stopped_disks(vm, runtime)
    existing = snapshots.merge_disks(snaps for _, snaps in disks)
    if req.op is SnapOp.LIST:
        return existing
    check_op(req.op, req.name, existing, vm.label)
    assert req.name is not None
    for disk, _ in disks:
        holder = find_holder(disk, runtime)
        if holder is not None:
            raise VmStateError(f"VM {vm.label}: its disk {disk} is in use by {holder}")
    saved = read_saved(vm.conf_path)
    if saved is not None and not req.force:
        raise VmStateError(
            f"VM {vm.label} is suspended (CANCEL SUSPEND): changing its disks would make"
            " CREATE=...,RESUME refuse them; resume it first, or add FORCE"
            + (
                " (DELETE:S4,FORCE drops the suspended state)"
                if req.name == snapshots.SNAPSHOT_TAG
                else ""
            )
        )
    op = {SnapOp.CREATE: snapimg.ImgOp.CREATE, SnapOp.APPLY: snapimg.ImgOp.APPLY,
          SnapOp.DELETE: snapimg.ImgOp.DELETE}[req.op]  # fmt: skip
    # APPLY and DELETE touch the disks that hold the tag (CREATE: all of them).
    targets = [
        d for d, snaps in disks if op is snapimg.ImgOp.CREATE or req.name in {s.tag for s in snaps}
    ]
    if ctx.invocation.dry_run:
        return _Done("\n".join(" ".join(snapimg.snapshot_argv(op, req.name, d)) for d in targets))
    for disk in targets:
        snapimg.run_snapshot(op, req.name, disk)
    if saved is not None and req.op is SnapOp.DELETE and req.name == snapshots.SNAPSHOT_TAG:
        discard_saved(vm.conf_path, saved)
        ctx.err.write(f"ctys: warning: VM {vm.label}: its suspended state (S4) is dropped\n")
    count = f"{len(targets)} disk" + ("s" if len(targets) != 1 else "")
    how = "qemu-img, disks only" if req.op is SnapOp.CREATE else "qemu-img"
    return _Done(
        f"VM {vm.label}: snapshot {req.name} {_VERBS[req.op]} on {count} (stopped VM: {how})"
    )


def run_snapshot(req: SnapshotRequest, ctx: RunContext, runtime: RuntimeDir | None = None) -> int:
    """The SNAPSHOT action: LIST prints the VM's snapshots, the others one line."""
    runtime = runtime or RuntimeDir()
    running, vm = find_running(
        runtime, req.selector, inventory_choice(ctx.invocation).path, ctx.err
    )
    if running is not None:
        outcome = _running(req, running, ctx)
    else:
        assert vm is not None  # find_running resolved a conf when no record matched
        outcome = _stopped(req, vm, runtime, ctx)
    if isinstance(outcome, _Done):
        ctx.out.write(printable(outcome.message, keep="\n") + "\n")
        return 0
    rows = snapshot_rows(outcome, req.fmt)
    render(rows, FIELDS, req.fmt, ctx.out, title=req.title)
    return 0
