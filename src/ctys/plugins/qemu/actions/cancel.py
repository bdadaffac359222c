"""CANCEL: power off, reboot, reset, pause, suspend (save and stop) VMs or change their
guests' run level, gracefully first; close their clients (CLIENT|BOTH); then, with SELF,
the host itself (``actions.selfcancel``). Modes and flags: ``cancelreq``.

Managed VMs are found by their runtime records first (then the inventory, then a scan);
a qemu of this user that ctys did not start is found by label, UUID or ``VMID:PID`` and
stopped through the QMP socket its command line names, or by signal with ``FORCE``.
Several VMs are stopped in parallel; one VM is cancelled by one CANCEL at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.address.model import AddressKind, AmbiguousAddress, MachineSelector
from ctys.errors import AddressError, CtysError, VmStateError
from ctys.inventory.settings import inventory_choice
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.cancelout import Reported, block, client_line
from ctys.plugins.qemu.actions.find_running import (
    RunningVm,
    find_running,
    foreign_instance,
    running_vms,
)
from ctys.plugins.qemu.actions.foreign import ForeignVm, foreign_matching, foreign_vms
from ctys.plugins.qemu.cancelreq import CancelMode, CancelRequest
from ctys.plugins.qemu.vm import lifecycle
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.lifecycle import StopHow, StopResult
from ctys.plugins.qemu.vm.qmp import QmpUnavailable
from ctys.plugins.qemu.vm.runtime import RuntimeDir

# At most this many VMs are stopped at once (CANCEL=ALL).
MAX_PARALLEL = 8


@dataclass(frozen=True)
class CancelOutcome:
    label: str
    message: str
    ok: bool = True
    target: Target | None = None


@dataclass(frozen=True)
class Target:
    """One VM to cancel: a managed one (``running``) or a foreign qemu of ours."""

    label: str
    pid: int
    qmp: Path | None
    running: RunningVm | None = None
    foreign: ForeignVm | None = None
    hmp: Path | None = None  # a foreign qemu's human monitor, when it has no QMP one


def _managed(running: RunningVm) -> Target:
    return Target(running.record.label, running.pid, running.rundir.qmp, running=running)


def _foreign(vm: ForeignVm) -> Target:
    qmp = vm.qmp
    return Target(vm.label, vm.pid, qmp, foreign=vm, hmp=None if qmp else vm.hmp)


@dataclass(frozen=True)
class Targets:
    """What CANCEL acts on, and (CANCEL=ALL) how many qemus it leaves alone."""

    vms: list[Target]
    left_ours: int = 0
    left_others: int = 0


def _targets(req: CancelRequest, runtime: RuntimeDir, ctx: RunContext) -> Targets:
    if req.all_vms:
        managed = running_vms(runtime)
        scan = foreign_vms({r.pid for r in managed})
        return Targets([_managed(r) for r in managed], len(scan.ours), scan.others)
    selector = req.selector
    try:
        running, vm = find_running(
            runtime, selector, inventory_choice(ctx.invocation).path, ctx.err
        )
    except AmbiguousAddress:
        raise
    except AddressError:
        # Not a VM ctys knows: maybe a qemu of ours started by hand (l:, UUID:, VMID:PID).
        found = _foreign_target(_foreign_of(runtime), selector)
        if found is not None:
            return Targets([found])
        terms = selector.terms
        if len(terms) == 1 and terms[0].kind is AddressKind.VMID:
            raise VmStateError(f"no running VM with ID {terms[0].value}") from None
        raise
    if running is not None:
        return Targets([_managed(running)])
    assert vm is not None  # find_running resolved a conf when no record matched
    by_conf = foreign_instance(vm, [f.proc for f in _foreign_of(runtime)])
    if by_conf is not None:
        return Targets([_foreign(ForeignVm(by_conf, by_conf.cmdline.name or vm.label))])
    # A conf was found: only a qemu running that conf (its UUID or disk) is that VM, not
    # any qemu that happens to carry the same -name.
    raise VmStateError(f"VM {vm.label} is not running")


def _foreign_of(runtime: RuntimeDir) -> tuple[ForeignVm, ...]:
    """This user's qemus that no runtime record claims."""
    return foreign_vms({r.pid for r in running_vms(runtime)}).ours


def _foreign_target(foreign: Sequence[ForeignVm], selector: MachineSelector) -> Target | None:
    found = foreign_matching(foreign, selector)
    if len(found) > 1:
        listing = "; ".join(f"{f.label} (pid {f.pid})" for f in found)
        raise AmbiguousAddress(f"{selector} is ambiguous, {len(found)} qemus match: {listing}")
    return _foreign(found[0]) if found else None


def _stop(target: Target, req: CancelRequest) -> tuple[StopResult, str]:
    """Power off one VM, managed or foreign, on its handle's ladder (the guest has
    ``req.stop_timeout`` seconds, then it is killed); returns how it ended and a note on
    why that way."""
    timeout = req.stop_timeout
    with _handle(target) as vm:
        if not vm.monitored and not req.force:
            # A foreign qemu without a monitor to ask: only a signal stops it.
            raise VmStateError(
                f"VM {target.label} (pid {target.pid}) was not started by ctys and names no"
                " QMP or monitor socket; CANCEL=...,FORCE stops it by signal (SIGTERM, then"
                f" SIGKILL after {timeout:g}s)"
            )
        # The handle removes the folder of a VM it ended (a foreign qemu has none).
        result = vm.shutdown(timeout)
        monitored = vm.monitored
    if result.acpi_skipped is not None:
        return result, f"; ACPI skipped: the VM is {result.acpi_skipped.value}"
    note = ""
    if monitored and result.how in (StopHow.QUIT, StopHow.TERM, StopHow.KILL):
        note = f" after the guest ignored ACPI for {timeout:g}s"
    return result, note


def _handle(target: Target) -> VmHandle:
    running = target.running
    if running is None:
        return VmHandle.attach_foreign(target.pid, qmp=target.qmp, hmp=target.hmp)
    qmp = target.qmp or running.rundir.qmp
    return VmHandle(target.pid, qmp, rundir=running.rundir, record=running.record)


def _managed_only(target: Target, what: str) -> RunningVm:
    if target.running is None:
        raise VmStateError(f"VM {target.label} (pid {target.pid}) was not started by ctys: {what}")
    return target.running


def cancel_target(target: Target, req: CancelRequest) -> CancelOutcome:
    """Apply ``req``'s mode to one running VM and say what happened."""
    label, qmp, mode = target.label, target.qmp, req.mode
    if mode is CancelMode.POWEROFF:
        result, note = _stop(target, req)
        return CancelOutcome(label, result.describe(note))
    if not lifecycle.process_alive(target.pid):
        return CancelOutcome(label, StopHow.GONE.value)
    if mode is CancelMode.INIT:
        from ctys.plugins.qemu.actions.guestinit import init_guest

        running = _managed_only(target, "INIT needs its guest agent socket or its conf's address")
        assert req.init_level is not None
        message = init_guest(running.rundir, running.record, req.init_level, req.user, req.timeout)
        return CancelOutcome(label, message)
    if qmp is None:
        raise VmStateError(
            f"VM {label} (pid {target.pid}) names no QMP socket; only POWEROFF (with FORCE:"
            " by signal) can stop it"
        )
    with _handle(target) as vm:
        if mode is CancelMode.RESET:
            vm.reset()
            return CancelOutcome(label, "reset")
        if mode is CancelMode.REBOOT:
            return CancelOutcome(label, vm.reboot(req.stop_timeout))
        if mode is CancelMode.SUSPEND:
            from ctys.plugins.qemu.actions.suspend import suspend_vm

            running = _managed_only(target, "SUSPEND keeps the state beside its conf")
            record = running.record
            return CancelOutcome(label, suspend_vm(vm, Path(record.conf), label, record.console))
        vm.pause()
        return CancelOutcome(label, "paused (resume with CREATE=...,RESUME)")


@contextlib.contextmanager
def _cancel_lock(runtime: RuntimeDir, target: Target) -> Iterator[None]:
    """One CANCEL of a VM at a time: a second one waits and then finds it gone ("was not
    running") instead of racing the first through the same monitor."""
    name = target.running.rundir.vmid if target.running is not None else f"pid-{target.pid}"
    with runtime.lock(f"{name}.cancel"):
        yield


def run_cancel(req: CancelRequest, ctx: RunContext, runtime: RuntimeDir | None = None) -> int:
    """The CANCEL action; each VM's outcome is one line (in the order they finish), or
    the original's block under ``-X``/MACHINE; failures do not stop the rest. Several VMs
    are stopped in parallel (at most ``MAX_PARALLEL`` at once), so N VMs that ignore ACPI
    cost one timeout, not N. SELF is confirmed before anything is done, and acts last."""
    from ctys.plugins.qemu.actions.selfcancel import cancel_self, confirm_self

    confirm_self(req)
    runtime = runtime or RuntimeDir()
    targets = _targets(req, runtime, ctx)
    dry_run = ctx.invocation.dry_run
    if req.all_vms and (targets.left_ours or targets.left_others):
        print(_left_alone(targets), file=ctx.out)
    if not targets.vms:
        print("no running VMs to cancel", file=ctx.out)
    elif dry_run:
        for target in targets.vms:
            print(f"{target.label}: would {_what(req)} (pid {target.pid})", file=ctx.out)
    status = 0 if dry_run or not targets.vms else _cancel_all(req, ctx, runtime, targets)
    if not dry_run:
        _release_switches(runtime)
    if req.self_target is not None:
        if status and not req.force:
            print(
                "SELF not done: not every VM was cancelled (CANCEL=...,FORCE,SELF goes on)",
                file=ctx.err,
            )
            return status
        status = max(status, cancel_self(req, ctx.out, dry_run=dry_run))
    return status


def _what(req: CancelRequest) -> str:
    """The mode, flags and scope of ``req`` in words, for ``-n``."""
    words = [req.mode.value if req.mode is not CancelMode.INIT else f"INIT:{req.init_level}"]
    if req.mode in (CancelMode.POWEROFF, CancelMode.REBOOT):
        words.append(f"within {req.stop_timeout:g}s")
    words.append("FORCE" if req.force else "STACK")
    if req.scope.clients:
        words.append(req.scope.value)
    return " ".join(words)


def _cancel_all(req: CancelRequest, ctx: RunContext, runtime: RuntimeDir, targets: Targets) -> int:
    printing = threading.Lock()
    status = 0
    terse = ctx.invocation.terse or req.machine

    def one(target: Target) -> CancelOutcome:
        with _cancel_lock(runtime, target):
            try:
                return _cancel_one(target, req, ctx, printing, terse)
            except (QmpUnavailable, CtysError) as exc:
                return CancelOutcome(target.label, f"failed: {exc}", ok=False, target=target)

    for outcome in run_parallel(one, targets.vms):
        if not outcome.ok:
            status = 1
        with printing:
            stream = ctx.out if outcome.ok else ctx.err
            if terse and outcome.target is not None and req.scope.server:
                for line in block(req, _reported(outcome.target, outcome.message)):
                    print(line, file=stream, flush=True)
            else:
                print(f"{outcome.label}: {outcome.message}", file=stream, flush=True)
    return status


def _reported(target: Target, message: str) -> Reported:
    conf = target.running.record.conf if target.running is not None else ""
    sport = str(target.qmp or target.hmp or "")
    return Reported(target.label, conf, target.pid, sport, message)


def _cancel_one(
    target: Target, req: CancelRequest, ctx: RunContext, printing: threading.Lock, terse: bool
) -> CancelOutcome:
    """Clients first (CLIENT|BOTH), then the VMs inside it (STACK), then the VM."""
    closed = _close_clients(target, req, ctx, printing, terse)
    if not req.scope.server:
        message = f"closed {', '.join(closed)}" if closed else "no clients to close"
        return CancelOutcome(target.label, message, target=target)
    blocked = _cancel_stack_above(target, req, ctx, printing)
    outcome = blocked or cancel_target(target, req)
    return dataclasses.replace(outcome, target=target)


def _close_clients(
    target: Target, req: CancelRequest, ctx: RunContext, printing: threading.Lock, terse: bool
) -> list[str]:
    from ctys.plugins.qemu.actions.clients import close_clients, find_clients

    if not req.scope.clients or target.running is None:
        return []
    running = target.running
    clients = find_clients(running.rundir, running.record, running.pid)
    closed = [client.describe() for client in close_clients(clients)]
    if terse:
        with printing:
            for client in clients:
                print(client_line(target.label, client.pid), file=ctx.out, flush=True)
    return closed


def run_parallel(
    work: Callable[[Target], CancelOutcome], targets: Sequence[Target]
) -> Iterator[CancelOutcome]:
    """``work`` on every target, at most ``MAX_PARALLEL`` at once; outcomes as they end."""
    if len(targets) == 1:
        yield work(targets[0])
        return
    from concurrent.futures import ThreadPoolExecutor, as_completed  # several VMs only

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(targets))) as pool:
        for future in as_completed([pool.submit(work, t) for t in targets]):
            yield future.result()


def _left_alone(targets: Targets) -> str:
    parts = []
    if targets.left_ours:
        parts.append(f"{targets.left_ours} of yours (CANCEL=l:LABEL or VMID:PID stops one)")
    if targets.left_others:
        parts.append(f"{targets.left_others} of other users")
    total = targets.left_ours + targets.left_others
    return f"left {total} qemu(s) not started by ctys alone: {', '.join(parts)}"


def _cancel_stack_above(
    target: Target, req: CancelRequest, ctx: RunContext, printing: threading.Lock
) -> CancelOutcome | None:
    """VM-STACK (STACK, the default; FORCE skips it): cancel the VMs inside a hypervisor
    VM first. Returns a failed outcome when they could not be cancelled (the hypervisor
    then stays up)."""
    from ctys.plugins.qemu.actions.stack import cancel_inner, inner_mode, stack_target_of_conf

    if target.running is None or not req.stack:
        return None
    inner = stack_target_of_conf(target.running.record.conf)
    mode = inner_mode(req.mode)
    if inner is None or mode is None:
        return None
    label = target.label
    with printing:
        print(f"{label}: VM-STACK: cancelling the VMs inside it on {inner} first", file=ctx.out)
    result = cancel_inner(inner, mode, req.timeout)
    with printing:
        for line in result.lines:
            print(f"  {line}", file=ctx.out)
    if result.ok:
        return None
    return CancelOutcome(
        label,
        f"not cancelled: the VMs inside it on {inner} could not be cancelled;"
        " CANCEL=...,FORCE takes it down without them",
        ok=False,
    )


def _release_switches(runtime: RuntimeDir) -> None:
    """Stop the VDE switches ctys started that no VM uses any more (also those left by
    VMs that powered off by themselves)."""
    from ctys.plugins.qemu.net.vde import sweep_orphan_switches

    sweep_orphan_switches(runtime.root, wait=True)  # no vde folder: no process scan
