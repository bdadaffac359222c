"""Boot media choices for one boot (BOOTMODE / KERNEL suboptions), independent of the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class BootMode(Enum):
    """``BOOTMODE:`` values of the original; several are synonyms for QEMU's -boot letter."""

    CD = "CD"
    DVD = "DVD"
    FDD = "FDD"
    HDD = "HDD"
    VHDD = "VHDD"
    USB = "USB"
    PXE = "PXE"
    KERNEL = "KERNEL"  # direct kernel boot: the conf's KERNELIMAGE/INITRDIMAGE/APPEND


@dataclass(frozen=True)
class BootSpec:
    mode: BootMode
    path: Path | None = None  # overrides the conf's medium (PXE: the TFTP root; KERNEL: kernel)
    bootfile: str | None = None  # PXE only: the file the guest fetches, relative to the root


@dataclass(frozen=True)
class KernelSpec:
    kernel: Path
    initrd: Path | None = None
    append: str | None = None
