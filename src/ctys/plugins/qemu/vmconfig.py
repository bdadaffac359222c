"""QEMU's VM as its conf file describes it: ``VmConfig`` and ``Accelerator`` (KVM/TCG,
``-machine``, the qemu binary and its args), what ``ctys.plugins.qemu.confs.mapping`` makes
of a parsed conf (``ctys.conf.rawconf.RawConf``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ctys.conf.found import NetAddress
from ctys.conf.rawconf import ConfMode, RawConf
from ctys.plugins.qemu.vmfacts import VmFacts


class Accelerator(Enum):
    """Which QEMU accelerator a VM asks for. AUTO: KVM when usable, else TCG."""

    AUTO = "AUTO"
    KVM = "KVM"
    TCG = "TCG"


@dataclass(frozen=True)
class VmConfig:
    """One VM as its conf file describes it. Paths are absolute (relative ones are taken
    relative to the conf file's directory)."""

    conf_path: Path
    label: str
    mode: ConfMode = ConfMode.CTYS_CONF
    uuid: str | None = None
    mac: str | None = None
    ip: str | None = None
    arch: str = "x86_64"
    accelerator: Accelerator = Accelerator.AUTO
    vcpu: int = 1
    memsize_mb: int = 512
    vncport: int | None = None  # fixed VNC TCP port (5900+display), else a free one
    dist: str | None = None
    os: str | None = None
    machine: str | None = None  # -machine type, e.g. "q35"
    qemu_binary: str | None = None  # explicit binary path/name, else by arch
    hdd: tuple[Path, ...] = ()  # hard disk images, first is the boot disk
    cdrom: Path | None = None  # ISO for BOOTMODE:CD/DVD
    fdd: Path | None = None  # floppy image for BOOTMODE:FDD
    kernel: Path | None = None  # direct kernel boot
    initrd: Path | None = None
    append: str | None = None
    extra_args: tuple[str, ...] = ()  # qemu args from the conf (ARGS), shell-word split
    ignored: bool = False  # MAGICID-IGNORE present
    dvd: Path | None = None  # DVDIMAGE (the original's DVD image)
    fdb: Path | None = None  # FDB (the second floppy)
    usb: Path | None = None  # USBBOOTIMAGE
    addresses: tuple[NetAddress, ...] = ()  # MAC<n>/IP<n>, one per listed IP
    facts: VmFacts = field(default_factory=VmFacts)  # the original's descriptive keys
    raw: RawConf | None = field(default=None, compare=False, repr=False)

    @property
    def directory(self) -> Path:
        return self.conf_path.parent
