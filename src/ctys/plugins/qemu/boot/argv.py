"""Build the qemu command line for a managed VM: a pure function of typed inputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec, KernelSpec
from ctys.plugins.qemu.boot.disks import disk_groups
from ctys.plugins.qemu.boot.instmode import DISK_SOURCE_MODES, InstallSpec, install_vm, kernel_word
from ctys.plugins.qemu.boot.pxe import booted_medium, pxe_network
from ctys.plugins.qemu.boot.uefi import UefiBoot, uefi_args
from ctys.plugins.qemu.net.netconf import network_config
from ctys.plugins.qemu.net.network import NetworkConfig, network_args, vde_dir
from ctys.plugins.qemu.shares.shareargv import SharePlan, share_args
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig

VNC_BASE_PORT = 5900
# QEMU picks the first free display in [base, VNC_LAST_DISPLAY] itself (-vnc ...,to=N),
# so two concurrent starts cannot race for one port.
VNC_LAST_DISPLAY = 99


class SerialMode:
    """Where the guest's first serial port goes."""

    SOCKET = "socket"  # detachable console on a UNIX socket (CLI, XTERM, ...)
    STDIO = "stdio"  # bound to the calling terminal (CLI0), QEMU monitor on Ctrl-A c


class DisplayMode:
    NONE = "none"
    SDL = "sdl"


@dataclass(frozen=True)
class LaunchSpec:
    """Everything that decides one qemu command line."""

    vm: VmConfig
    binary: str
    accelerator: Accelerator
    rundir: VmRuntimeDir
    serial: str = SerialMode.SOCKET
    display: str = DisplayMode.NONE
    vnc: bool = True  # prepare a VNC server for (later) attachment
    vnc_listen: str | None = None  # TCP address; None: the private UNIX socket (see VNCPORT)
    daemonize: bool = True
    boot: BootSpec | None = None
    kernel: KernelSpec | None = None
    argsadd: tuple[str, ...] = ()
    install: InstallSpec | None = None  # INSTMODE: boot installer media (replaces ``boot``)
    network: NetworkConfig | None = None  # None: read from the conf (ctys.plugins.qemu.net.netconf)
    vde_dir: Path | None = None  # managed VDE switches; None: <runtime>/vde beside vms/
    firmware: UefiBoot | None = None  # FIRMWARE UEFI: OVMF pflash (ctys.plugins.qemu.boot.uefi)
    seed: Path | None = None  # CLOUDINIT: the cidata ISO (ctys.plugins.qemu.boot.cloudinit)
    shares: tuple[SharePlan, ...] = ()  # SHARE<n>: shared folders (ctys.plugins.qemu.shares)


def qemu_escape(value: str) -> str:
    """Escape a value inside a comma-separated qemu option (``,`` → ``,,``)."""
    return value.replace(",", ",,")


def disk_format(path: Path) -> str | None:
    """Image format from the file suffix; ``None`` lets qemu probe."""
    suffix = path.suffix.lower()
    if suffix == ".qcow2":
        return "qcow2"
    if suffix in (".img", ".raw"):
        return "raw"
    if suffix in (".vmdk", ".vdi", ".vhdx"):
        return suffix[1:]
    return None


def _drive(path: Path, index: int, media: str = "disk") -> list[str]:
    opts = [f"file={qemu_escape(str(path))}", f"index={index}", f"media={media}"]
    fmt = disk_format(path) if media == "disk" else "raw"
    if fmt:
        opts.append(f"format={fmt}")
    return ["-drive", ",".join(opts)]


def _vnc_arg(spec: LaunchSpec) -> list[str]:
    """``-vnc``: a UNIX socket in the VM's 0700 folder (only its owner can connect), or a
    TCP port when one is asked for (a bind address, or VNCPORT in the conf)."""
    if not spec.vnc:
        return []
    if spec.vnc_listen is None and spec.vm.vncport is None:
        return ["-vnc", f"unix:{qemu_escape(str(spec.rundir.vnc_socket))}"]
    host = spec.vnc_listen or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    if spec.vm.vncport is not None:
        display = spec.vm.vncport - VNC_BASE_PORT
        if not 0 <= display <= 65535 - VNC_BASE_PORT:
            raise VmError(
                f"{spec.vm.conf_path}: VNCPORT {spec.vm.vncport} is not a VNC port (5900 and up)"
            )
        return ["-vnc", f"{host}:{display}"]
    return ["-vnc", f"{host}:0,to={VNC_LAST_DISPLAY}"]


def _serial_args(spec: LaunchSpec) -> list[str]:
    log = qemu_escape(str(spec.rundir.console_log))
    if spec.serial == SerialMode.STDIO:
        return [
            "-chardev",
            f"stdio,id=ser0,mux=on,signal=off,logfile={log}",
            "-serial",
            "chardev:ser0",
            "-mon",
            "chardev=ser0,mode=readline",
        ]
    sock = qemu_escape(str(spec.rundir.console))
    return [
        "-chardev",
        f"socket,id=ser0,path={sock},server=on,wait=off,logfile={log}",
        "-serial",
        "chardev:ser0",
    ]


def _boot_args(spec: LaunchSpec) -> list[str]:
    """Media and boot order. The boot medium comes last on the command line: the original's
    LIST relies on the boot image being the last argument."""
    if spec.install is not None:
        return _install_args(spec, spec.install)
    vm = spec.vm
    boot = spec.boot
    mode = boot.mode if boot else None
    override = boot.path if boot else None
    disks = list(vm.hdd)
    cdrom = vm.cdrom
    fdd = vm.fdd
    order: str | None = None
    if mode in (BootMode.HDD, BootMode.VHDD, BootMode.USB):
        if override:
            disks = [override, *disks[1:]]
        if not disks:
            raise VmError(f"{vm.conf_path}: BOOTMODE:{mode.value} but no HDD image configured")
        order = "c"
    elif mode in (BootMode.CD, BootMode.DVD):
        cdrom = override or cdrom
        if cdrom is None:
            raise VmError(f"{vm.conf_path}: BOOTMODE:{mode.value} but no CDROM image configured")
        order = "d"
    elif mode is BootMode.FDD:
        fdd = override or fdd
        if fdd is None:
            raise VmError(f"{vm.conf_path}: BOOTMODE:FDD but no FDD image configured")
        order = "a"
    elif mode is BootMode.PXE:
        order = "n"
    elif mode is BootMode.KERNEL and kernel_image(vm, boot, spec.kernel) is None:
        raise VmError(
            f"{vm.conf_path}: BOOTMODE:KERNEL but no kernel: set KERNELIMAGE in the conf"
            " or give BOOTMODE:KERNEL%/path/to/kernel"
        )

    args: list[str] = []
    if order:
        args += ["-boot", f"order={order}"]
    controllers, media = disk_groups(vm, tuple(disks))
    args += controllers
    if fdd is not None:
        media.append(["-drive", f"file={qemu_escape(str(fdd))},if=floppy,index=0,format=raw"])
    if cdrom is not None:
        media.append(_drive(cdrom, 2, media="cdrom"))
    # The medium we boot from goes last.
    if order == "d" and cdrom is not None:
        media.append(media.pop(-1))
    elif order == "a" and fdd is not None:
        idx = len(disks)
        media.append(media.pop(idx))
    elif disks and order != "n":
        media.append(media.pop(0))
    for item in media:
        args += item
    kernel = _kernel_args(spec)
    # Direct kernel boot: the kernel is the boot image, so it goes last.
    return [*args, *kernel] if kernel else args


def _install_args(spec: LaunchSpec, install: InstallSpec) -> list[str]:
    """INSTMODE media: the target as first disk, the installer booted once. A CD/DVD/FDD/PXE
    source uses ``-boot once=`` so the guest's reboot after installing comes up from the
    target; a disk/USB source gets ``bootindex=0`` (it stays first until the next CREATE
    without INSTMODE). The installer medium goes last on the command line."""
    vm = install_vm(spec.vm, install)
    mode = install.source.mode
    args: list[str] = []
    controllers, media = disk_groups(vm, vm.hdd)
    args += controllers
    if mode in DISK_SOURCE_MODES and install.source.path is not None:
        src = install.source.path
        opts = [f"file={qemu_escape(str(src))}", "if=none", "id=instsrc"]
        fmt = disk_format(src)
        if fmt:
            opts.append(f"format={fmt}")
        device = "usb-storage" if mode is BootMode.USB else "virtio-blk-pci"
        usb = ["-usb"] if mode is BootMode.USB else []
        media.append(
            [*usb, "-drive", ",".join(opts), "-device", f"{device},drive=instsrc,bootindex=0"]
        )
    elif mode is BootMode.FDD and vm.fdd is not None:
        args += ["-boot", "once=a"]
        media.append(["-drive", f"file={qemu_escape(str(vm.fdd))},if=floppy,index=0,format=raw"])
    elif mode in (BootMode.CD, BootMode.DVD) and vm.cdrom is not None:
        args += ["-boot", "once=d"]
        media.append(_drive(vm.cdrom, 2, media="cdrom"))
    elif mode is BootMode.PXE:
        args += ["-boot", "once=n"]
    for item in media:
        args += item
    kernel = _kernel_args(dataclasses.replace(spec, vm=vm), extra_append=kernel_word(install))
    return [*args, *kernel]


def kernel_image(vm: VmConfig, boot: BootSpec | None, k: KernelSpec | None) -> Path | None:
    """The kernel a boot loads directly: ``KERNEL:``'s, else ``BOOTMODE:KERNEL%PATH``'s,
    else the conf's KERNELIMAGE (which the original's wrapper also always passed)."""
    if k is not None:
        return k.kernel
    if boot is not None and boot.mode is BootMode.KERNEL and boot.path is not None:
        return boot.path
    return vm.kernel


def _kernel_args(spec: LaunchSpec, extra_append: str = "") -> list[str]:
    vm = spec.vm
    k = spec.kernel
    kernel = kernel_image(vm, spec.boot, k)
    if kernel is None:
        return []
    initrd = (k.initrd if k and k.initrd else None) or (vm.initrd if not k else None)
    append = (k.append if k and k.append is not None else None) or (
        vm.append if not k or k.append is None else None
    )
    if extra_append:
        append = f"{append} {extra_append}" if append else extra_append
    args: list[str] = []
    if append:
        args += ["-append", append]
    if initrd:
        args += ["-initrd", str(initrd)]
    args += ["-kernel", str(kernel)]
    return args


def _network_args(spec: LaunchSpec) -> list[str]:
    """NICs (user-mode virtio by default, never qemu's implicit e1000) and the guest agent."""
    net = spec.network
    if net is None:
        net = network_config(spec.vm, args=spec.argsadd)
    # The VM's folder is <runtime>/vms/<vmid>, the switches are in <runtime>/vde.
    net = pxe_network(net, spec.vm, booted_medium(spec.boot, spec.install))
    switches = spec.vde_dir or vde_dir(spec.rundir.path.parent.parent)
    return network_args(net, switches, spec.rundir.path)


def monitor_args(qmp: Path, events: Path, pidfile: Path) -> list[str]:
    """ctys's two QMP monitors and its pidfile. The command monitor comes first: a
    command-line scan (``vm.cmdline``) takes the first ``-qmp`` as a qemu's monitor, so
    LIST, INFO and CANCEL never try ``events``, the event-only monitor WATCH holds (QEMU
    serves one client per monitor). A qemu takes any number of ``-qmp``, so one of a
    wrapper's own does not clash."""
    return [
        *("-qmp", f"unix:{qemu_escape(str(qmp))},server=on,wait=off"),
        *("-qmp", f"unix:{qemu_escape(str(events))},server=on,wait=off"),
        *("-pidfile", str(pidfile)),
    ]


def build_argv(spec: LaunchSpec) -> list[str]:
    """The full qemu argv for ``spec``: identity, accelerator, machine, QMP monitor, pidfile,
    console, display/VNC, network, then pass-through arguments (conf ARGS, CREATE ARGSADD)
    before the boot medium."""
    vm = spec.vm
    # "guest=" spelled out: a bare label holding "=" would be read as another key.
    argv = [spec.binary, "-name", f"guest={qemu_escape(vm.label)}"]
    if vm.uuid:
        argv += ["-uuid", vm.uuid]
    accel = "kvm" if spec.accelerator is Accelerator.KVM else "tcg"
    argv += ["-accel", accel]
    machine = spec.firmware.machine if spec.firmware and spec.firmware.machine else vm.machine
    if machine:
        argv += ["-machine", machine]
    argv += ["-m", str(vm.memsize_mb), "-smp", str(vm.vcpu)]
    if spec.firmware is not None:
        argv += uefi_args(spec.firmware)
    argv += monitor_args(spec.rundir.qmp, spec.rundir.events, spec.rundir.pidfile)
    argv += _serial_args(spec)
    argv += ["-display", spec.display]
    argv += _vnc_arg(spec)
    if spec.daemonize:
        argv += ["-daemonize"]
    argv += _network_args(spec)
    argv += share_args(spec.shares, spec.rundir.path, vm.memsize_mb)
    argv += list(vm.extra_args) + list(spec.argsadd)
    argv += _boot_args(spec)
    if spec.seed is not None:
        # The last IDE slot: disks take 0-1 and the CD-ROM 2; cloud-init finds it by label.
        argv += ["-drive", f"file={qemu_escape(str(spec.seed))},index=3,media=cdrom,readonly=on"]
    return argv
