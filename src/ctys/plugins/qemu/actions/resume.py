"""CREATE=<address>,RESUME: let a paused VM (CANCEL=...,PAUSE or SUSPEND) run again,
without attaching a console (the original's word; REUSE resumes and attaches)."""

from __future__ import annotations

from pathlib import Path

from ctys.errors import VmStateError
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.find_running import find_running
from ctys.plugins.qemu.requests import CreateRequest
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import RuntimeDir


def run_resume(
    req: CreateRequest, runtime: RuntimeDir, inventory: Path | None, ctx: RunContext
) -> int:
    """Resume the running VM ``req`` names; a VM that is not running is an error (RESUME
    never boots), one that runs already is said so (exit 0)."""
    running, vm = find_running(runtime, req.selector, inventory, ctx.err)
    if running is None:
        label = vm.label if vm is not None else str(req.selector)
        raise VmStateError(f"VM {label} is not running (RESUME continues a paused VM)")
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
