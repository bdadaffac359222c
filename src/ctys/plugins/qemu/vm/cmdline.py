"""Read a running qemu's command line back into typed facts (pure; no processes touched).

LIST finds VMs this tool did not start from the process table alone, so everything it shows
about them comes from here: name, uuid, sockets, VNC display, accelerator, images. The
original's rule is kept: the boot image is the last command-line argument. Our own CREATE
puts the boot medium last as a ``-drive``/``-kernel`` option, so a trailing media option
counts as the boot image too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePosixPath

# Options that take no value. Everything else starting with '-' takes exactly one, which is
# how QEMU's own parser works (qemu-options.hx, HAS_ARG). Legacy flags of old releases are
# kept: an unknown flag would otherwise swallow the boot image that follows it.
_FLAGS = frozenset(
    {
        "h", "help", "version", "mem-prealloc", "audio-help", "snapshot", "usb", "nographic",
        "portrait", "full-screen", "win2k-hack", "no-fd-bootchk", "no-acpi", "no-hpet",
        "singlestep", "preconfig", "S", "s", "enable-kvm", "xen-attach", "xen-domid-restrict",
        "no-reboot", "no-shutdown", "daemonize", "only-migratable", "nodefaults",
        "no-user-config", "async-teardown", "enable-sync-profile", "enable-fips", "semihosting",
        "no-kvm", "no-kvm-irqchip", "no-kvm-pit", "no-kvm-pit-reinjection", "enable-nesting",
        "no-quit", "no-frame", "alt-grab", "ctrl-grab", "sdl", "curses", "localtime",
        "std-vga", "rtc-td-hack", "no-kqemu", "kernel-kqemu", "enable-kqemu", "nodefconfig",
        "show-cursor", "old-param", "vmwarevga", "no-virtio-balloon", "tdf", "xen-create",
    }
)  # fmt: skip

_LEGACY_DISKS = {
    "hda": "disk",
    "hdb": "disk",
    "hdc": "disk",
    "hdd": "disk",
    "cdrom": "cdrom",
    "fda": "floppy",
    "fdb": "floppy",
    "mtdblock": "flash",
    "sd": "sd",
    "pflash": "flash",
}

_MEM_UNITS = {"": 1.0, "B": 1 / (1 << 20), "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1 << 20}


class MediaKind(Enum):
    """What a drive file is to the guest."""

    DISK = "disk"
    CDROM = "cdrom"
    FLOPPY = "floppy"
    FLASH = "flash"
    SD = "sd"


@dataclass(frozen=True)
class Drive:
    """One image file the command line attaches (``-hda``, ``-cdrom``, ``-drive file=``...)."""

    file: str
    media: MediaKind = MediaKind.DISK


@dataclass(frozen=True)
class VncSpec:
    """``-vnc``: a TCP display (``host`` may be empty: all interfaces) or a UNIX socket.
    ``last_display`` is the end of a ``to=N`` range: QEMU took the first free display in
    ``display..last_display``, which the command line alone cannot tell."""

    host: str = ""
    display: int | None = None
    unix_path: str | None = None
    last_display: int | None = None

    @property
    def port(self) -> int | None:
        return None if self.display is None else 5900 + self.display

    def __str__(self) -> str:
        if self.unix_path is not None:
            return f"unix:{self.unix_path}"
        host = self.host or "0.0.0.0"  # noqa: S104 - a description, nothing is bound here
        if ":" in host:
            host = f"[{host}]"
        if self.last_display is not None:
            return f"{host}:{self.port}-{5900 + self.last_display}"
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class QemuCmdline:
    """The facts LIST needs from one qemu argv. Absent facts are ``None``/empty."""

    binary: str
    name: str | None = None
    uuid: str | None = None
    qmp_socket: str | None = None
    console_socket: str | None = None
    vnc: VncSpec | None = None
    accelerator: str | None = None  # "kvm", "tcg", "kvm:tcg" (tried in order), ...
    kernel: str | None = None
    boot_image: str | None = None
    drives: tuple[Drive, ...] = ()
    pidfile: str | None = None
    memory_mb: int | None = None
    smp: int | None = None
    positional: tuple[str, ...] = ()
    argv: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def image(self) -> str | None:
        """The image that best names this VM: the boot image, else the first disk, else
        the first medium of any kind, else the kernel."""
        if self.boot_image:
            return self.boot_image
        for drive in self.drives:
            if drive.media is MediaKind.DISK:
                return drive.file
        if self.drives:
            return self.drives[0].file
        return self.kernel

    def references(self, path: str) -> bool:
        """True when some argument names the folder ``path`` or a file below it (ties a
        process to its runtime folder; ``/x/vm1`` does not match ``/x/vm10/qmp.sock``)."""
        folder = path.rstrip("/")
        if not folder:
            return False
        for arg in self.argv:
            text = arg.replace(",,", ",")
            if f"{folder}/" in text or text.endswith(folder):
                return True
        return False


def split_opts(value: str) -> list[str]:
    """Split a QEMU option value at single commas; ``,,`` is a literal comma."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == ",":
            if value.startswith(",,", i):
                current.append(",")
                i += 2
                continue
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def parse_opts(value: str, implied: str | None = None) -> dict[str, str]:
    """``key=val,key2=val2`` into a dict. A first item without ``=`` is the value of the
    ``implied`` key (``-name foo`` → guest=foo); other bare items are boolean ``on``
    (legacy ``server,nowait``: ``nowait`` → ``wait=off``). A JSON object value (libvirt's
    ``-blockdev {...}``) gives its top-level scalars."""
    stripped = value.strip()
    if stripped.startswith("{"):
        return _json_opts(stripped)
    result: dict[str, str] = {}
    for index, item in enumerate(split_opts(value)):
        if not item:
            continue
        key, sep, val = item.partition("=")
        if sep:
            result.setdefault(key, val)
        elif index == 0 and implied is not None:
            result.setdefault(implied, item)
        elif item.startswith("no") and len(item) > 2:
            result.setdefault(item[2:], "off")
        else:
            result.setdefault(item, "on")
    return result


def _json_opts(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | float | bool)}


def iter_options(args: Sequence[str]) -> Iterator[tuple[str | None, str | None]]:
    """Walk qemu arguments (without argv[0]) as ``(option, value)`` pairs: options without a
    leading dash (``--name`` = ``-name``), ``value`` ``None`` for flags; a positional
    argument comes as ``(None, arg)``."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and len(arg) > 1:
            option = arg[2:] if arg.startswith("--") else arg[1:]
            if option in _FLAGS or i + 1 >= len(args):
                yield option, None
                i += 1
            else:
                yield option, args[i + 1]
                i += 2
        else:
            yield None, arg
            i += 1


def parse_memory_mb(value: str) -> int | None:
    """``-m`` value in MiB: ``512``, ``2G``, ``size=1024M,slots=2``, ``1.5G``."""
    size = parse_opts(value, implied="size").get("size", "")
    size = size.strip()
    unit = size[-1:].upper() if size[-1:].isalpha() else ""
    number = size[:-1] if unit else size
    if unit not in _MEM_UNITS:
        return None
    try:
        return int(float(number) * _MEM_UNITS[unit])
    except ValueError:
        return None


def parse_smp(value: str) -> int | None:
    """``-smp`` value as the number of vCPUs: ``4``, ``cpus=4``, or the topology product."""
    opts = parse_opts(value, implied="cpus")
    try:
        if "cpus" in opts:
            return int(opts["cpus"])
        product = 1
        found = False
        for key in ("sockets", "dies", "clusters", "cores", "threads"):
            if key in opts:
                product *= int(opts[key])
                found = True
        return product if found else None
    except ValueError:
        return None


def parse_vnc(value: str) -> VncSpec | None:
    """``-vnc`` value (or ``-display vnc=...``): ``127.0.0.1:3``, ``:1``, ``[::1]:2``,
    ``unix:/path``, ``none`` (→ ``None``)."""
    first = split_opts(value)[0]
    if first.startswith("vnc="):
        first = first[4:]
    if first in ("", "none"):
        return None
    if first.startswith("unix:"):
        return VncSpec(unix_path=first[5:])
    host, sep, display = first.rpartition(":")
    if not sep:
        return None
    host = host.strip("[]")
    try:
        base = int(display)
    except ValueError:
        return None
    to = parse_opts(value).get("to", "")
    last = int(to) if to.isdigit() and int(to) > base else None
    return VncSpec(host=host, display=base, last_display=last)


def _unix_path(spec: str) -> str | None:
    """Path of a ``-qmp``/``-serial``/``-monitor`` chardev spec, if it is a UNIX socket."""
    if spec.startswith("mon:"):
        spec = spec[4:]
    if spec.startswith("unix:"):
        return split_opts(spec[5:])[0]
    return None


@dataclass
class _Scan:
    """Mutable scratch state while walking one argv."""

    name: str | None = None
    uuid: str | None = None
    qmp_socket: str | None = None
    console_socket: str | None = None
    vnc: VncSpec | None = None
    vnc_seen: bool = False
    kernel: str | None = None
    pidfile: str | None = None
    memory_mb: int | None = None
    smp: int | None = None
    drives: list[Drive] = field(default_factory=list)
    positional: list[str] = field(default_factory=list)
    accels: list[str] = field(default_factory=list)
    chardev_paths: dict[str, str] = field(default_factory=dict)
    control_chardevs: list[str] = field(default_factory=list)
    serial_chardevs: list[str] = field(default_factory=list)

    def chardev_path(self, ids: Sequence[str]) -> str | None:
        return next((self.chardev_paths[c] for c in ids if c in self.chardev_paths), None)


def parse_qemu_cmdline(argv: Sequence[str]) -> QemuCmdline:
    """Parse one qemu process's argv (``argv[0]`` is the binary) into a ``QemuCmdline``."""
    if not argv:
        return QemuCmdline(binary="")
    scan = _Scan()
    last_media: str | None = None  # file of the last argument when it attached a medium
    for option, value in iter_options(argv[1:]):
        last_media = None
        if option is None:
            arg = value or ""
            scan.positional.append(arg)
            scan.drives.append(Drive(arg))
            last_media = arg
        elif option == "enable-kvm":
            scan.accels.append("kvm")
        elif value is not None:
            last_media = _apply_option(option, value, scan)
    accels = list(dict.fromkeys(scan.accels))
    binary = argv[0]
    if not accels and PurePosixPath(binary).name in ("kvm", "qemu-kvm"):
        accels = ["kvm"]  # these wrappers default to KVM
    return QemuCmdline(
        binary=binary,
        name=scan.name or None,
        uuid=scan.uuid or None,
        qmp_socket=scan.qmp_socket or scan.chardev_path(scan.control_chardevs),
        console_socket=scan.console_socket or scan.chardev_path(scan.serial_chardevs),
        vnc=scan.vnc,
        accelerator=":".join(accels) or None,
        kernel=scan.kernel,
        boot_image=last_media or None,
        drives=tuple(scan.drives),
        pidfile=scan.pidfile,
        memory_mb=scan.memory_mb,
        smp=scan.smp,
        positional=tuple(scan.positional),
        argv=tuple(argv),
    )


def _apply_option(option: str, value: str, scan: _Scan) -> str | None:
    """Record what one ``-option value`` says; return the medium file it attached, if any.
    The first occurrence of a single-valued option wins, as the process shows it first."""
    if option == "name":
        scan.name = scan.name or parse_opts(value, implied="guest").get("guest")
    elif option == "uuid":
        scan.uuid = scan.uuid or value
    elif option in ("qmp", "qmp-pretty"):
        scan.qmp_socket = scan.qmp_socket or _unix_path(value)
    elif option == "serial":
        path = _unix_path(value)
        if path is not None:
            scan.console_socket = scan.console_socket or path
        elif value.startswith("chardev:"):
            scan.serial_chardevs.append(value[8:])
    elif option == "chardev":
        opts = parse_opts(value, implied="backend")
        if opts.get("backend") in ("socket", "unix") and "path" in opts and "id" in opts:
            scan.chardev_paths[opts["id"]] = opts["path"]
    elif option == "mon":
        opts = parse_opts(value, implied="chardev")
        if opts.get("mode") == "control" and "chardev" in opts:
            scan.control_chardevs.append(opts["chardev"])
    elif option == "device":
        opts = parse_opts(value, implied="driver")
        if opts.get("driver") in _SERIAL_DEVICES and "chardev" in opts:
            scan.serial_chardevs.append(opts["chardev"])
    elif option == "vnc" or (option == "display" and value.startswith("vnc=")):
        if not scan.vnc_seen:
            scan.vnc_seen = True
            scan.vnc = parse_vnc(value)
    elif option == "accel":
        accel = parse_opts(value, implied="accel").get("accel", "")
        scan.accels.extend(a for a in accel.split(":") if a)
    elif option in ("machine", "M"):
        accel = parse_opts(value, implied="type").get("accel", "")
        scan.accels.extend(a for a in accel.split(":") if a)
    elif option == "kernel":
        scan.kernel = scan.kernel or value
        return value
    elif option == "pidfile":
        scan.pidfile = scan.pidfile or value
    elif option == "m":
        scan.memory_mb = scan.memory_mb or parse_memory_mb(value)
    elif option == "smp":
        scan.smp = scan.smp or parse_smp(value)
    elif option in _LEGACY_DISKS:
        kind = MediaKind(_LEGACY_DISKS[option])
        scan.drives.append(Drive(value, kind))
        return value if kind in _BOOTABLE else None
    elif option == "drive":
        return _drive_option(value, scan.drives)
    elif option == "blockdev":
        opts = parse_opts(value, implied="driver")
        if opts.get("driver") not in ("file", "host_device", "host_cdrom"):
            return None
        if "filename" not in opts:
            return None
        # libvirt names firmware nodes "libvirt-pflash0-storage": firmware, not a disk.
        pflash = "pflash" in opts.get("node-name", "")
        kind = MediaKind.FLASH if pflash else MediaKind.DISK
        scan.drives.append(Drive(opts["filename"], kind))
        return opts["filename"] if kind in _BOOTABLE else None
    return None


_SERIAL_DEVICES = frozenset({"isa-serial", "pci-serial", "virtconsole", "spapr-vty", "sclpconsole"})


def _drive_option(value: str, drives: list[Drive]) -> str | None:
    opts = parse_opts(value)
    file = opts.get("file")
    if not file or file.startswith("json:"):
        return None
    kind = _IF_MEDIA.get(opts.get("if", ""))
    if kind is None:
        kind = MediaKind.CDROM if opts.get("media") == "cdrom" else MediaKind.DISK
    drives.append(Drive(file, kind))
    return file if kind in _BOOTABLE else None


_IF_MEDIA = {
    "floppy": MediaKind.FLOPPY,
    "pflash": MediaKind.FLASH,
    "mtd": MediaKind.FLASH,
    "sd": MediaKind.SD,
}
# Firmware (pflash) and board flash never name the VM; they are not the boot image.
_BOOTABLE = frozenset({MediaKind.DISK, MediaKind.CDROM, MediaKind.FLOPPY})
