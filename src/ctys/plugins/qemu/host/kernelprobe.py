"""The second stage of the KVM probe: does a 64-bit Linux kernel survive its start on KVM?

Firmware runs in real mode with few exits; on some hosts (nested KVM) it passes while a
guest kernel, once it enters long mode and programs its devices, drives the vCPU into
QEMU's ``internal-error`` state. So when the firmware probe says "usable", a kernel is
booted under KVM with no disk and no initrd: it starts, sets up its devices, finds no root
file system and panics, and with ``panic=-1`` plus ``-no-reboot`` qemu then exits. That
run (at most ``KERNEL_DEADLINE`` seconds; about 1 s on working KVM, 2.5 s under TCG here)
is judged by ``judge_kernel``. The kernel is the
cached test guest's (``ctys.plugins.qemu.images.build``) or the host's own
``/boot/vmlinuz-$(uname -r)``;
without a readable one the stage is skipped (the start watch of
``ctys.plugins.qemu.actions.kvmwatch`` remains). Runs once per boot of the host, with the
firmware probe (the verdict is cached).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

KERNEL_DEADLINE = 3.0
ENTRY_MARKER = b"Linux version"  # the kernel's first console line: its entry ran
_POLL = 0.02


@dataclass(frozen=True)
class KernelObservation:
    """What the probe kernel did under KVM."""

    kernel: str
    status: str | None  # last QMP run state seen, None: never asked or no answer
    entered_after: float | None  # seconds until the kernel printed its first line
    exited: bool  # qemu ended (the kernel ran to its panic and the VM went off)
    error_line: str  # qemu's "KVM internal error" line, if any
    deadline: float


def probe_kernel_image() -> Path | None:
    """A 64-bit kernel to probe with: the cached test guest's, else the host's own."""
    with contextlib.suppress(ImportError, OSError):
        from ctys.plugins.qemu.images.build import KERNEL_NAME, default_cache_dir

        found = sorted(
            default_cache_dir().glob(f"*/{KERNEL_NAME}"), key=lambda p: p.stat().st_mtime
        )
        if found:
            return found[-1]
    host = Path("/boot") / f"vmlinuz-{os.uname().release}"
    return host if os.access(host, os.R_OK) else None


def judge_kernel(seen: KernelObservation) -> tuple[bool | None, str]:
    """(usable, why): False when the kernel drove KVM into internal-error or did not even
    print its first line in time (a kernel that stalls that long on KVM is worse off than
    under TCG, where it starts in about a second); True when it started and ran until the
    probe ended or it powered off; None when qemu would not run the kernel at all (no
    verdict: the firmware probe's stands)."""
    if seen.status == "internal-error" or seen.error_line:
        detail = f": {seen.error_line}" if seen.error_line else ""
        return False, (
            f"a 64-bit Linux kernel entered QEMU's internal-error state under KVM{detail}"
            " (kernel probe)"
        )
    if seen.entered_after is not None:
        end = "ran until its panic (no root disk)" if seen.exited else "kept running"
        return True, f"a 64-bit Linux kernel started in {seen.entered_after:.2f}s and {end}"
    if seen.exited:
        return None, "qemu exited before the probe kernel printed anything"
    return False, (
        f"a 64-bit Linux kernel printed nothing within {seen.deadline:g}s under KVM"
        " (stalled; kernel probe)"
    )


def _entered(console: Path, started: float) -> float | None:
    """Seconds since ``started`` when the console shows the kernel's first line, else None."""
    with contextlib.suppress(OSError):
        if ENTRY_MARKER in console.read_bytes():
            return time.monotonic() - started
    return None


def _error_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            if "internal error" in line.lower():
                return line.strip()
    return ""


def probe_kernel(
    binary: Path, kernel: Path, accel: str = "kvm", deadline: float = KERNEL_DEADLINE
) -> KernelObservation:
    """Boot ``kernel`` under ``accel`` for at most ``deadline`` seconds and observe it;
    the qemu is always killed and reaped."""
    from ctys.plugins.qemu.host.kvmprobe import probe_process, probe_status
    from ctys.plugins.qemu.vm.handle import VmHandle

    with tempfile.TemporaryDirectory(prefix="ctys-kernelprobe-") as tmp:
        root = Path(tmp)
        qmp, console, stderr_path = root / "qmp.sock", root / "console.log", root / "stderr"
        argv = [
            str(binary),
            *("-accel", accel, "-m", "128", "-display", "none", "-nodefaults"),
            *("-no-reboot", "-no-user-config", "-serial", f"file:{console}"),
            *("-kernel", str(kernel), "-append", "console=ttyS0 panic=-1"),
            *("-qmp", f"unix:{qmp},server=on,wait=off"),
        ]
        with (
            probe_process(argv, stderr_path) as process,
            VmHandle(process.pid, qmp) as vm,  # one QMP connection for the whole watch
        ):
            started = time.monotonic()
            entered: float | None = None
            status: str | None = None
            while time.monotonic() - started < deadline and process.poll() is None:
                if entered is None:
                    entered = _entered(console, started)
                if qmp.exists():
                    status = probe_status(vm, 0.5) or status
                    if status == "internal-error":
                        break
                time.sleep(_POLL)
            exited = process.poll() is not None
            entered = entered if entered is not None else _entered(console, started)
        return KernelObservation(
            kernel=str(kernel),
            status=status,
            entered_after=entered,
            exited=exited,
            error_line=_error_line(stderr_path),
            deadline=deadline,
        )
