"""``#@#FIRMWARE = BIOS|UEFI|UEFI-SECURE``: which firmware a VM boots.

BIOS (the default) is QEMU's SeaBIOS, nothing to add. UEFI is OVMF (Debian's ``ovmf``)
found through QEMU's firmware descriptors (``ctys.plugins.qemu.host.firmware``): its code
as a read-only pflash, and a copy of its variable store in the VM's folder
(``<conf stem>_VARS.fd``, mode 0600) as a writable pflash, so the boot entries a guest
writes survive its next boot. UEFI-SECURE (also ``SECUREBOOT``) is OVMF with Secure Boot
and the distribution's keys enrolled; it needs SMM, hence a q35 machine
(``-machine q35,smm=on``, the default when the conf sets no MACHINE) and secure pflash.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.boot.confkeys import conf_value
from ctys.plugins.qemu.host.firmware import FirmwareImage, find_firmware
from ctys.plugins.qemu.vmconfig import VmConfig

KEY = "FIRMWARE"


class FirmwareKind(Enum):
    BIOS = "BIOS"
    UEFI = "UEFI"
    UEFI_SECURE = "UEFI-SECURE"


_KINDS = {
    "BIOS": FirmwareKind.BIOS,
    "SEABIOS": FirmwareKind.BIOS,
    "UEFI": FirmwareKind.UEFI,
    "EFI": FirmwareKind.UEFI,
    "OVMF": FirmwareKind.UEFI,
    "UEFI-SECURE": FirmwareKind.UEFI_SECURE,
    "UEFI-SECUREBOOT": FirmwareKind.UEFI_SECURE,
    "SECUREBOOT": FirmwareKind.UEFI_SECURE,
}
# What the machine types are called when the conf names none or an alias.
_DEFAULT_MACHINE = "pc-i440fx-latest"
_MACHINE_ALIASES = {"pc": "pc-i440fx-latest", "q35": "pc-q35-latest"}


@dataclass(frozen=True)
class UefiBoot:
    """The pflash pair of one UEFI boot and the machine it needs."""

    code: Path
    vars_template: Path
    vars_file: Path  # the VM's own copy, in its folder
    secure: bool
    machine: str | None  # -machine value to use (None: the conf's, or qemu's default)


def firmware_kind(vm: VmConfig) -> FirmwareKind:
    """The conf's ``FIRMWARE`` (BIOS when absent); an unknown value is a ``VmError``."""
    found = conf_value(vm, KEY)
    if found is None:
        return FirmwareKind.BIOS
    kind = _KINDS.get(found.text.upper())
    if kind is None:
        raise VmError(
            f"{vm.conf_path}: {found.name}: unknown firmware '{found.text}'"
            " (BIOS, UEFI or UEFI-SECURE)"
        )
    return kind


def _machine_name(machine: str | None) -> str:
    base = (machine or _DEFAULT_MACHINE).split(",", 1)[0]
    return _MACHINE_ALIASES.get(base, base)


def _fits(image: FirmwareImage, arch: str, machine: str) -> bool:
    return image.vars_template is not None and any(
        fnmatch.fnmatchcase(machine, pattern) for pattern in image.machines_for(arch)
    )


def _pick(images: Sequence[FirmwareImage], secure: bool) -> FirmwareImage | None:
    if secure:
        enrolled = [i for i in images if i.secure_boot and "enrolled-keys" in i.features]
        candidates = enrolled or [i for i in images if i.secure_boot]
        return candidates[0] if candidates else None
    plain = [i for i in images if not i.secure_boot and "requires-smm" not in i.features]
    return plain[0] if plain else None


def uefi_boot(vm: VmConfig, dirs: Sequence[Path] | None = None) -> UefiBoot | None:
    """The UEFI firmware for ``vm`` (``None`` for BIOS); a ``VmError`` when the host has
    none that fits its architecture and machine type."""
    kind = firmware_kind(vm)
    if kind is FirmwareKind.BIOS:
        return None
    secure = kind is FirmwareKind.UEFI_SECURE
    machine = vm.machine
    if secure:
        if machine is not None and "q35" not in _machine_name(machine):
            raise VmError(
                f"{vm.conf_path}: FIRMWARE UEFI-SECURE needs a q35 machine (SMM),"
                f" not MACHINE {machine}"
            )
        machine = machine or "q35"
        if "smm=" not in machine:
            machine += ",smm=on"
    images = [i for i in find_firmware(dirs) if _fits(i, vm.arch, _machine_name(machine))]
    image = _pick(images, secure)
    if image is None or image.vars_template is None:
        what = "secure-boot UEFI" if secure else "UEFI"
        raise VmError(
            f"VM {vm.label}: FIRMWARE {kind.value}: no {what} firmware for {vm.arch}"
            f" ({_machine_name(machine)}) among QEMU's firmware descriptors"
            " (/usr/share/qemu/firmware): install Debian's ovmf"
        )
    suffix = "_VARS_SECURE.fd" if secure else "_VARS.fd"
    return UefiBoot(
        code=image.code,
        vars_template=image.vars_template,
        vars_file=vm.directory / f"{vm.conf_path.stem}{suffix}",
        secure=secure,
        machine=machine if secure else None,
    )


def uefi_args(uefi: UefiBoot) -> list[str]:
    """The two pflash drives (code read-only, the VM's variables writable); Secure Boot
    also protects the flash from code outside SMM."""
    from ctys.plugins.qemu.boot.argv import qemu_escape  # argv imports this module

    args = [
        "-drive",
        f"if=pflash,format=raw,unit=0,readonly=on,file={qemu_escape(str(uefi.code))}",
        "-drive",
        f"if=pflash,format=raw,unit=1,file={qemu_escape(str(uefi.vars_file))}",
    ]
    if uefi.secure:
        args += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    return args


def ensure_varstore(uefi: UefiBoot) -> None:
    """The VM's variable store exists: a private (0600) copy of the firmware's template,
    made once (atomically: a temp file beside it, renamed); a later boot keeps it."""
    target = uefi.vars_file
    if target.exists() and not target.is_file():
        raise VmError(f"UEFI variable store {target} is not a file")
    if target.is_file():
        return
    partial = target.with_name(f".{target.name}.new-{os.getpid()}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, uefi.vars_template.open("rb") as src:
            shutil.copyfileobj(src, out)
        partial.replace(target)
    except OSError as err:
        raise VmError(
            f"cannot create the UEFI variable store {target}: {err.strerror or err}"
        ) from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
