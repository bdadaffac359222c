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
from ctys.qemu.network import vde_dir
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
        _release_switches(runtime)
        return 0
    status = 0
    for target in targets:
        try:
            blocked = _cancel_stack_above(target, req, ctx)
            outcome = blocked or cancel_one(target, req.mode, req.timeout)
        except (QmpUnavailable, CtysError) as exc:
            outcome = CancelOutcome(target.record.label, f"failed: {exc}", ok=False)
            status = 1
        if not outcome.ok:
            status = 1
        print(f"{outcome.label}: {outcome.message}", file=ctx.out if outcome.ok else ctx.err)
    _release_switches(runtime)
    return status


def _cancel_stack_above(
    target: RunningVm, req: CancelRequest, ctx: RunContext
) -> CancelOutcome | None:
    """VM-STACK: cancel the VMs inside a hypervisor VM first. Returns a failed outcome when
    they could not be cancelled (the hypervisor then stays up, unless FORCE)."""
    from ctys.actions.stack import cancel_inner, inner_mode, stack_target_of_conf

    inner = stack_target_of_conf(target.record.conf)
    mode = inner_mode(req.mode)
    if inner is None or mode is None:
        return None
    label = target.record.label
    print(f"{label}: VM-STACK: cancelling the VMs inside it on {inner} first", file=ctx.out)
    result = cancel_inner(inner, mode, req.timeout)
    for line in result.lines:
        print(f"  {line}", file=ctx.out)
    if result.ok or req.mode is CancelMode.FORCE:
        return None
    return CancelOutcome(
        label,
        f"not cancelled: the VMs inside it on {inner} could not be cancelled;"
        " CANCEL=...,FORCE takes it down anyway",
        ok=False,
    )


def _release_switches(runtime: RuntimeDir) -> None:
    """Stop the VDE switches ctys started that no VM uses any more (also those left by
    VMs that powered off by themselves)."""
    switches = vde_dir(runtime.root)
    if not switches.is_dir():
        return  # no VDE network was ever used: no process scan
    from ctys.qemu.vde import release_idle_switches

    release_idle_switches(switches)
