"""CREATE's ``WAIT:TEXT[%SECONDS]``: block until the VM's serial console prints TEXT.

The console log is polled every 10 ms; the VM's run state (QMP ``query-status``) every
``STATE_EVERY`` seconds, so a guest that enters QEMU's ``internal-error`` (or
``guest-panicked``) state fails the wait within about a second instead of after the whole
timeout. Such a VM is stopped and its runtime folder removed (its logs are kept and named
in the error). A timeout leaves the VM running: it may only be slow. On a terminal the
wait shows its progress on stderr.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from ctys.errors import VmError
from ctys.plugins.qemu.actions.startguard import log_hint
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir

DEFAULT_TIMEOUT = 120.0
STATE_EVERY = 0.5  # seconds between run-state checks
_POLL = 0.01


class GuestFailed(VmError):
    """A VM entered a failed run state; it has been stopped (its logs kept)."""

    def __init__(self, message: str, state: RunState, detail: str) -> None:
        super().__init__(message)
        self.state = state
        self.detail = detail  # qemu's own words (first error line of qemu.log), or ""


def _qemu_error_line(log: Path) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        if "internal error" in line.lower() or "emulation failure" in line.lower():
            return line.strip()
    return ""


def _rundir(vm: VmHandle) -> VmRuntimeDir:
    assert vm.rundir is not None, "post-start checks run on VMs ctys started"
    return vm.rundir


def stop_failed(vm: VmHandle, label: str, state: RunState, doing: str) -> GuestFailed:
    """Stop a VM that is in a failed run ``state`` (its folder goes, its logs stay) and
    return the error saying so."""
    rundir = _rundir(vm)
    vm.kill()  # a VM it ended loses its folder; its logs are kept (``kept_logs``)
    logs = vm.kept_logs
    detail = _qemu_error_line(logs / "qemu.log" if logs else rundir.qemu_log)
    kept = logs
    said = f": {detail}" if detail else ""
    return GuestFailed(
        f"VM {label} entered QEMU's {state.value} state {doing}{said}; stopped it (KVM internal"
        f" error? use ACCELERATOR=TCG or CTYS_ACCEL=tcg){log_hint(kept)}",
        state,
        detail,
    )


@contextlib.contextmanager
def _progress(err: TextIO | None, what: str, timeout: float) -> Iterator[Callable[[], None]]:
    """Yields ``tick()``, which shows a spinner with the elapsed time on ``err`` when it is
    a terminal (and does nothing otherwise)."""
    if err is None or not err.isatty():
        yield lambda: None
        return
    from rich.console import Console  # late: only a terminal pays for rich

    started = time.monotonic()
    with Console(file=err).status(what) as status:
        yield lambda: status.update(f"{what} ({time.monotonic() - started:.0f}s of {timeout:g}s)")


def wait_console_text(
    vm: VmHandle,
    text: str,
    *,
    timeout: float,
    label: str,
    err: TextIO | None = None,
) -> None:
    """Return once the console log holds ``text``; ``VmError`` when the VM ends or fails
    first (stopped, logs kept) or ``timeout`` seconds pass (the VM keeps running)."""
    rundir = _rundir(vm)
    needle = text.encode()
    started = time.monotonic()
    deadline = started + timeout
    next_state = started + STATE_EVERY
    with _progress(err, f"{label}: waiting for {text!r} on the console", timeout) as tick:
        while True:
            with contextlib.suppress(OSError):
                if needle in rundir.console_log.read_bytes():
                    return
            if vm.ended():  # the handle removed the folder and kept the logs
                hint = log_hint(vm.kept_logs)
                raise VmError(f"VM {label} ended before its console printed {text!r}{hint}")
            now = time.monotonic()
            if now >= next_state:
                state = vm.status(timeout=1.0)
                if state is not None and state.failed:
                    raise stop_failed(vm, label, state, f"before printing {text!r}")
                next_state = time.monotonic() + STATE_EVERY
                tick()
            if now >= deadline:
                raise VmError(
                    f"console of {label} did not print {text!r} within {timeout:g}s"
                    f" (the VM keeps running; CANCEL=l:{label} stops it)"
                )
            time.sleep(_POLL)
