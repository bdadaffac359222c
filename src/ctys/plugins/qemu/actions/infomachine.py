"""INFO's MACHINE form (``INFO=MACHINE``, or INFO with ``-X``), the original's
``infoQEMU4MACHINE``: one line
``<user>@<host>;QEMU;<accel>;<plugin-version>;<magic>;<state>;<prerequisites>``.

- accel: ``KVM`` when KVM is usable here, else ``TCG`` (the original wrote ``QEMU`` for
  "no accelerator");
- plugin-version: ctys' version;
- magic: the original's QEMU_MAGIC of the first qemu binary (``QEMU_090`` ... ``QEMU_012``
  for the old releases it knew, ``QEMU_GENERIC`` for any other, ``NOLOC`` without one);
- state: ``ENABLED`` with a qemu binary, else ``DISABLED``;
- prerequisites: space-separated, as the original's: ``VM-CAPABILITY:QEMU-<version>-<arch>``
  (``%vde-<arch>`` with vde_switch), then ``<CPU-Emulation:<binary>>`` per binary and
  ``<KVM:usable|unusable>``.
"""

from __future__ import annotations

import getpass
import shutil
from collections.abc import Sequence

from ctys.plugins.qemu.host.detect import HostCapabilities, QemuCapabilities, host_arch

# The original's getQEMUMAGIC: version prefix → magic (first match wins).
_MAGICS = (
    ("0.9.0", "QEMU_090"),
    ("0.9.1", "QEMU_091"),
    ("0.9", "QEMU_09x"),
    ("0.10", "QEMU_010"),
    ("0.11", "QEMU_011"),
    ("0.12", "QEMU_012"),
)
NO_QEMU_MAGIC = "NOLOC"
GENERIC_MAGIC = "QEMU_GENERIC"


def magic_of(version: str | None) -> str:
    """The original's magic ID of a qemu ``version`` (``None``: no qemu found)."""
    if version is None:
        return NO_QEMU_MAGIC
    for prefix, magic in _MAGICS:
        if version == prefix or version.startswith(prefix + "."):
            return magic
    return GENERIC_MAGIC


def prerequisites(binaries: Sequence[QemuCapabilities], kvm_usable: bool, vde: bool) -> str:
    """The original's QEMU_PREREQ for these binaries."""
    items: list[str] = []
    if binaries:
        capability = f"VM-CAPABILITY:QEMU-{binaries[0].version}-{host_arch()}"
        items.append(capability + (f"%vde-{host_arch()}" if vde else ""))
    items += [f"<CPU-Emulation:{b.path.name}>" for b in binaries]
    items.append(f"<KVM:{'usable' if kvm_usable else 'unusable'}>")
    return " ".join(items)


def machine_line(host: HostCapabilities, account: str, version: str, *, vde: bool) -> str:
    """The MACHINE line of ``host``."""
    binaries = host.binaries
    fields = (
        account,
        "QEMU",
        "KVM" if host.kvm.usable else "TCG",
        version,
        magic_of(binaries[0].version if binaries else None),
        "ENABLED" if binaries else "DISABLED",
        prerequisites(binaries, host.kvm.usable, vde),
    )
    return ";".join(fields)


def this_account() -> str:
    """``<user>@<host>`` (the original's MYACCOUNT)."""
    from ctys.inventory.settings import this_host

    return f"{getpass.getuser()}@{this_host()}"


def has_vde() -> bool:
    """Whether vde_switch is installed."""
    return shutil.which("vde_switch") is not None
