"""CREATE=<address>,RESUME: let a paused VM (CANCEL=...,PAUSE|S3) run again, or start a
suspended one (CANCEL=...,SUSPEND|S4: its saved state, ``actions.restore``) where it was,
without attaching a console (the original's word; REUSE resumes and attaches)."""

from __future__ import annotations

from pathlib import Path

from ctys.errors import VmStateError
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.find_running import find_running
from ctys.plugins.qemu.actions.restore import restore_vm
from ctys.plugins.qemu.actions.suspend import read_saved
from ctys.plugins.qemu.requests import CreateRequest
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import RuntimeDir


def run_resume(
    req: CreateRequest, runtime: RuntimeDir, inventory: Path | None, ctx: RunContext
) -> int:
    """Resume the running VM ``req`` names, or restore it from its saved state; a VM
    that neither runs nor has a saved state is an error (RESUME never boots afresh), one
    that runs already is said so (exit 0)."""
    running, vm = find_running(runtime, req.selector, inventory, ctx.err)
    if running is None:
        saved = read_saved(vm.conf_path) if vm is not None else None
        if vm is not None and saved is not None:
            return restore_vm(vm, saved, req, runtime, ctx.out)
        label = vm.label if vm is not None else str(req.selector)
        raise VmStateError(
            f"VM {label} is not running and has no saved state (RESUME continues a VM"
            " paused or suspended by CANCEL)"
        )
    label = running.record.label
    with VmHandle(
        running.pid, running.rundir.qmp, rundir=running.rundir, record=running.record
    ) as handle:
        state = handle.status(timeout=3.0)
        if state is None:
            raise VmStateError(f"VM {label}: its monitor does not answer; cannot resume it")
        if state is not RunState.PAUSED:
            print(f"{label}: not paused ({state.value}), nothing to resume", file=ctx.out)
            return 0
        handle.resume()
    print(f"{label}: resumed", file=ctx.out)
    return 0
