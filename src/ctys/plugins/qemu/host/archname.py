"""The target arch a QEMU binary's name says (``qemu-system-x86_64`` → ``x86_64``) and this
host's arch in QEMU's spelling. Apart from ``host.detect`` so that LIST's ARCH field does
not load the capability probes (and QMP below them)."""

from __future__ import annotations

_HOST_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "i686": "i386", "i586": "i386"}


def arch_of_name(name: str) -> tuple[str, str]:
    """Target arch and variant from a binary name: ``qemu-system-x86_64-microvm`` ->
    ``("x86_64", "microvm")``; ``qemu-kvm``/``kvm`` run the host's arch."""
    if name.startswith("qemu-system-"):
        arch, _, variant = name.removeprefix("qemu-system-").partition("-")
        return arch, variant
    return host_arch(), ""


def host_arch() -> str:
    """This machine's arch in QEMU's spelling (x86_64, aarch64, ...)."""
    import platform  # only for qemu-kvm/kvm: qemu-system-* names say their arch

    machine = platform.machine().lower()
    return _HOST_ARCH_ALIASES.get(machine, machine)
