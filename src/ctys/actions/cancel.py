"""CANCEL: stop, reboot, reset or pause managed VMs, gracefully first."""

from __future__ import annotations

from dataclasses import dataclass

from ctys.actions.running import RunningVm, managed_for_vm, managed_instance
from ctys.address.model import AddressKind
from ctys.address.resolve import resolve_one
from ctys.errors import CtysError, VmStateError
from ctys.inventory.settings import inventory_choice
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.requests import CancelMode, CancelRequest
from ctys.qemu import machine
from ctys.qemu.machine import StopHow
from ctys.qemu.qmp import QmpUnavailable, qmp_execute
from ctys.qemu.runtime import RuntimeDir


@dataclass(frozen=True)
class CancelOutcome:
    label: str
    message: str
    ok: bool = True


def _targets(req: CancelRequest, runtime: RuntimeDir, ctx: RunContext) -> list[RunningVm]:
    if req.all_vms:
        found = [managed_instance(runtime, d.vmid) for d in runtime.all_vms()]
        return [r for r in found if r is not None]
    terms = req.selector.terms
    if len(terms) == 1 and terms[0].kind is AddressKind.ID:
        running = managed_instance(runtime, terms[0].value)
        if running is None:
            raise VmStateError(f"no running VM with ID {terms[0].value}")
        return [running]
    vm = resolve_one(req.selector, inventory_choice(ctx.invocation).path)
    running = managed_for_vm(runtime, vm)
    if running is None:
        raise VmStateError(f"VM {vm.label} is not running")
    return [running]


def cancel_one(target: RunningVm, mode: CancelMode, timeout: float) -> CancelOutcome:
    """Apply one CANCEL mode to one running VM and say what happened."""
    label, qmp, pid = target.record.label, target.rundir.qmp, target.pid
    if mode in (CancelMode.PAUSE, CancelMode.SUSPEND):
        qmp_execute(qmp, "stop")
        return CancelOutcome(label, "paused (resume with CREATE=...,REUSE)")
    if mode is CancelMode.RESET:
        qmp_execute(qmp, "system_reset")
        return CancelOutcome(label, "reset")
    if mode is CancelMode.REBOOT:
        return CancelOutcome(label, machine.reboot(qmp, timeout))
    if mode is CancelMode.FORCE:
        result = machine.force(pid, qmp)
    else:
        result = machine.poweroff(pid, qmp, timeout)
    if result.how is not StopHow.GONE:
        target.rundir.remove()
    note = ""
    if mode is CancelMode.POWEROFF and result.how in (StopHow.QUIT, StopHow.KILL):
        note = f" after the guest ignored ACPI for {timeout:g}s"
    return CancelOutcome(label, f"{result.how.value}{note} ({result.seconds:.1f}s)")


def run_cancel(req: CancelRequest, ctx: RunContext, runtime: RuntimeDir | None = None) -> int:
    """The CANCEL action; each VM's outcome is one line, failures do not stop the rest."""
    runtime = runtime or RuntimeDir()
    targets = _targets(req, runtime, ctx)
    if not targets:
        print("no running VMs to cancel", file=ctx.out)
        return 0
    status = 0
    for target in targets:
        try:
            outcome = cancel_one(target, req.mode, req.timeout)
        except (QmpUnavailable, CtysError) as exc:
            outcome = CancelOutcome(target.record.label, f"failed: {exc}", ok=False)
            status = 1
        print(f"{outcome.label}: {outcome.message}", file=ctx.out if outcome.ok else ctx.err)
    return status
