"""``BOOTMODE:PXE%TFTPROOT[%BOOTFILE]``: network boot from a folder of this host.

On a user-mode NIC QEMU's own DHCP and TFTP server answer the guest's PXE ROM: the folder
is given as ``tftp=`` and the boot file as ``bootfile=`` (default ``pxelinux.0``). The
conf's ``#@#TFTPROOT`` (and ``#@#TFTPBOOTFILE``) are the defaults for a PXE boot without a
path. A NIC on a VDE switch, tap device or bridge is on a LAN: there the LAN's PXE server
answers, so a conf default is not used there, and a root given on the command line is an
error (nothing would serve it). Everything is checked before anything starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ctys.errors import VmError
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec
from ctys.plugins.qemu.boot.confkeys import conf_path, conf_value
from ctys.plugins.qemu.boot.instmode import InstallSpec
from ctys.plugins.qemu.net.network import NetMode, NetworkConfig
from ctys.plugins.qemu.vmconfig import VmConfig

DEFAULT_BOOTFILE = "pxelinux.0"
ROOT_KEY = "TFTPROOT"
BOOTFILE_KEY = "TFTPBOOTFILE"


@dataclass(frozen=True)
class TftpServe:
    """What QEMU's TFTP server offers: ``root``, and ``bootfile`` inside it; ``source`` names
    where the root came from (for messages)."""

    root: Path
    bootfile: str
    source: str
    explicit: bool  # given on the command line (BOOTMODE/INSTMODE), not by the conf


def booted_medium(boot: BootSpec | None, install: InstallSpec | None) -> BootSpec | None:
    """What a CREATE boots from: INSTMODE's source, else BOOTMODE (``None``: the conf's)."""
    return install.source if install is not None else boot


def tftp_serve(vm: VmConfig, boot: BootSpec | None) -> TftpServe | None:
    """The TFTP root and boot file of a PXE boot, or ``None`` (not PXE, or no root)."""
    if boot is None or boot.mode is not BootMode.PXE:
        return None
    found_file = conf_value(vm, BOOTFILE_KEY)
    bootfile = boot.bootfile or (found_file.text if found_file else DEFAULT_BOOTFILE)
    if boot.path is not None:
        return TftpServe(boot.path, bootfile, "TFTP root", explicit=True)
    found = conf_value(vm, ROOT_KEY)
    if found is None:
        return None
    source = f"TFTP root ({vm.conf_path}: {found.name})"
    return TftpServe(conf_path(vm, found.text), bootfile, source, explicit=False)


def check_pxe(vm: VmConfig, boot: BootSpec | None) -> None:
    """The TFTP root is a folder holding the boot file (a relative path inside it)."""
    serve = tftp_serve(vm, boot)
    if serve is None:
        return
    root = serve.root
    if not root.exists():
        raise VmError(f"{serve.source} {root} does not exist (VM {vm.label}, BOOTMODE:PXE)")
    if not root.is_dir():
        raise VmError(f"{serve.source} {root} is not a folder (VM {vm.label}, BOOTMODE:PXE)")
    relative = PurePosixPath(serve.bootfile)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise VmError(
            f"PXE boot file '{serve.bootfile}' must be a relative path inside the TFTP root"
            f" {root} (VM {vm.label})"
        )
    if not (root / relative).is_file():
        raise VmError(
            f"PXE boot file '{serve.bootfile}' is not in TFTP root {root} (VM {vm.label})"
        )


def pxe_network(net: NetworkConfig, vm: VmConfig, boot: BootSpec | None) -> NetworkConfig:
    """``net`` with the TFTP root and boot file on every user-mode NIC. Without one the
    LAN's PXE server is used: a conf default is dropped, a root from the command line is a
    ``VmError``."""
    serve = tftp_serve(vm, boot)
    if serve is None:
        return net
    if not any(nic.mode is NetMode.USER for nic in net.nics):
        if serve.explicit:
            raise VmError(
                f"BOOTMODE:PXE%{serve.root}: VM {vm.label} has no user-mode NIC to serve it"
                " (a VDE/tap/bridge NIC boots from the LAN's PXE server: drop the path)"
            )
        return net
    nics = tuple(
        dataclasses.replace(nic, tftp=serve.root, bootfile=serve.bootfile)
        if nic.mode is NetMode.USER
        else nic
        for nic in net.nics
    )
    return dataclasses.replace(net, nics=nics)
