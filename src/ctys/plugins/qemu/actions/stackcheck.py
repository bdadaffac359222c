"""CREATE's ``STACKCHECK``: the VM's requirements against this host, before it boots, as
the original's VMSTACK checks (verifyStackCapability, verifyHardwareCapabilityStatic):

- STACKCAP: each word of the conf's ``STACKREQ`` (a hypervisor or capability the VM needs
  from its host, e.g. ``QEMU``, ``KVM``, ``VMX``) must be one this host offers: ``QEMU``
  (a qemu for the VM's ARCH), ``KVM`` (usable, by the cached probe), and the CPU's
  virtualisation flags (``VMX``, ``SVM``, ``HVM`` for either). A version after ``-``
  (``QEMU-0.12``) is not compared.
- HWCAP: each word of ``HWREQ`` a flag of the host's CPU (``/proc/cpuinfo``: ``pae``,
  ``lm``...); with ``STACKCHECK:HWCAP`` named, also ``VCPU`` no more than the host's CPUs
  and ``MEMSIZE`` no more than its memory (qemu itself allows both, so only on request).
- CONTEXT: accepted; ctys has no stack context beyond these.

Each failed check is one ``VmError`` naming the requirement and what the host has;
``STACKCHECK:OFF`` (or ``NOSTACKCAP``/``NOHWCAP``) skips them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.createopts import StackCheck
from ctys.plugins.qemu.vmconfig import VmConfig

_WORDS = re.compile(r"[\s,;%]+")
_CPUINFO = Path("/proc/cpuinfo")


def requirement_words(text: str) -> list[str]:
    """``STACKREQ``/``HWREQ`` as upper-case words, a version suffix dropped."""
    return [word.split("-", 1)[0].upper() for word in _WORDS.split(text.strip()) if word]


def cpu_flags(cpuinfo: Path = _CPUINFO) -> frozenset[str]:
    """The host CPU's flags, upper-cased (empty when ``/proc/cpuinfo`` cannot be read)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.upper().split())
    return frozenset()


def host_stack_caps(
    vm: VmConfig, flags: frozenset[str], kvm_usable: Callable[[], bool]
) -> set[str]:
    """What this host offers a VM: QEMU, KVM, the virtualisation flags (HVM for either)."""
    caps: set[str] = {flag for flag in ("VMX", "SVM") if flag in flags}
    if caps:
        caps.add("HVM")
    if vm.qemu_binary or shutil.which(f"qemu-system-{vm.arch}"):
        caps.add("QEMU")
    if "KVM" in requirement_words(vm.facts.stackreq) and kvm_usable():
        caps.add("KVM")  # probed only when asked for: the probe may boot a test guest
    return caps


def _kvm_usable() -> bool:
    from ctys.plugins.qemu.host.detect import detect_host

    return bool(detect_host().kvm.usable)


def _host_memory_mb() -> int:
    import psutil

    return int(psutil.virtual_memory().total // (1024 * 1024))


def check_stack(
    vm: VmConfig,
    check: StackCheck,
    *,
    flags: frozenset[str] | None = None,
    kvm_usable: Callable[[], bool] = _kvm_usable,
    cpus: int | None = None,
    memory_mb: Callable[[], int] = _host_memory_mb,
) -> None:
    """Raise ``VmError`` for the first requirement of ``vm`` this host does not meet."""
    if check.off:
        return
    stackreq = requirement_words(vm.facts.stackreq)
    hwreq = requirement_words(vm.facts.hwreq)
    if flags is None and (stackreq or hwreq):
        flags = cpu_flags()
    flags = flags or frozenset()
    if check.stackcap and stackreq:
        caps = host_stack_caps(vm, flags, kvm_usable)
        missing = [word for word in stackreq if word not in caps]
        if missing:
            offered = ", ".join(sorted(caps)) or "nothing"
            raise VmError(
                f"STACKCHECK: VM {vm.label} requires {', '.join(missing)} (STACKREQ in"
                f" {vm.conf_path}); this host offers {offered} (STACKCHECK:NOSTACKCAP skips)"
            )
    if not check.hwcap:
        return
    if check.sizes:
        _check_sizes(vm, cpus, memory_mb)
    missing = [word for word in hwreq if word not in flags]
    if missing:
        raise VmError(
            f"STACKCHECK: VM {vm.label} requires the CPU flag(s) {', '.join(missing)} (HWREQ in"
            f" {vm.conf_path}), which this host's CPU lacks (STACKCHECK:NOHWCAP skips)"
        )


def _check_sizes(vm: VmConfig, cpus: int | None, memory_mb: Callable[[], int]) -> None:
    host_cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    if vm.vcpu > host_cpus:
        raise VmError(
            f"STACKCHECK: VM {vm.label} wants {vm.vcpu} CPUs, this host has {host_cpus}"
            " (STACKCHECK:NOHWCAP skips)"
        )
    total = memory_mb()
    if vm.memsize_mb > total:
        raise VmError(
            f"STACKCHECK: VM {vm.label} wants {vm.memsize_mb} MiB of memory, this host has"
            f" {total} MiB (STACKCHECK:NOHWCAP skips)"
        )
