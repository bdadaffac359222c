"""AUTO's second line of defence: watch the first seconds of a KVM guest.

The KVM probe (``ctys.plugins.qemu.host.kvmprobe``) boots only firmware; on some hosts (nested KVM)
firmware runs but a guest's kernel drives the vCPU into QEMU's ``internal-error`` state
a second later. So the first AUTO VM that goes on KVM in a boot of the host is watched
for ``WATCH_SECONDS``: when it survives, the verdict is marked confirmed (no later CREATE
watches again); when it fails, it is stopped, the verdict "unusable" is stored for this
boot, and CREATE restarts the VM under TCG, saying why in one line.
"""

from __future__ import annotations

import sys
import time

from ctys.plugins.qemu.actions.waitready import GuestFailed, stop_failed
from ctys.plugins.qemu.host.kvmprobe import KvmState, remember_guest_verdict
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.textescape import one_line

WATCH_SECONDS = 3.0
_POLL = 0.1


def watch_kvm_guest(
    vm: VmConfig, handle: VmHandle, kvm: KvmState, seconds: float = WATCH_SECONDS
) -> None:
    """Watch the just-started KVM guest for ``seconds``; ``GuestFailed`` (the VM stopped)
    when it enters a failed run state, else the verdict is remembered as confirmed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not handle.alive():
            return  # ended on its own (powered off): nothing says KVM is at fault
        state = handle.status(timeout=1.0)
        if state is not None and state.failed:
            raise stop_failed(handle, vm.label, state, "under KVM")
        time.sleep(_POLL)
    remember_guest_verdict(kvm, True, kvm.reason)


def kvm_failed(vm: VmConfig, kvm: KvmState, failed: GuestFailed) -> str:
    """Store "KVM unusable" for this boot after ``failed`` and say in one line that the VM
    is restarted under TCG; returns the reason (for the start line)."""
    what = failed.detail or f"state {failed.state.value}"
    reason = f"a KVM guest ({vm.label}) entered QEMU's {failed.state.value} state ({what})"
    remember_guest_verdict(kvm, False, reason)
    print(
        one_line(f"ctys: KVM is not usable on this host: {reason}; restarting it under TCG"),
        file=sys.stderr,
        flush=True,
    )
    return reason
