"""The qemu command line built for a managed VM."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctys.errors import VmError
from ctys.plugins.qemu.boot.argv import DisplayMode, LaunchSpec, SerialMode, build_argv, qemu_escape
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec, KernelSpec
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig

RUN = VmRuntimeDir(Path("/run/ctys/vms/vm1-0123abcd"))


def vm(**kw: object) -> VmConfig:
    base: dict[str, object] = {"conf_path": Path("/vms/vm1/vm1.conf"), "label": "vm1"}
    base.update(kw)
    return VmConfig(**base)  # type: ignore[arg-type]


def spec(v: VmConfig, **kw: object) -> LaunchSpec:
    base: dict[str, object] = {
        "vm": v,
        "binary": "/usr/bin/qemu-system-x86_64",
        "accelerator": Accelerator.TCG,
        "rundir": RUN,
    }
    base.update(kw)
    return LaunchSpec(**base)  # type: ignore[arg-type]


def opt(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_identity_monitor_and_console() -> None:
    argv = build_argv(spec(vm(uuid="u-1", memsize_mb=256, vcpu=2), daemonize=False))
    assert argv[0] == "/usr/bin/qemu-system-x86_64"
    assert opt(argv, "-name") == "guest=vm1"
    assert opt(argv, "-uuid") == "u-1"
    assert opt(argv, "-accel") == "tcg"
    assert opt(argv, "-m") == "256"
    assert opt(argv, "-smp") == "2"
    assert opt(argv, "-qmp") == f"unix:{RUN.qmp},server=on,wait=off"
    monitors = [argv[i + 1] for i, word in enumerate(argv) if word == "-qmp"]
    assert monitors[1] == f"unix:{RUN.events},server=on,wait=off"  # WATCH's event monitor
    assert opt(argv, "-pidfile") == str(RUN.pidfile)
    assert opt(argv, "-chardev").startswith(f"socket,id=ser0,path={RUN.console},server=on")
    assert f"logfile={RUN.console_log}" in opt(argv, "-chardev")
    assert opt(argv, "-serial") == "chardev:ser0"
    assert opt(argv, "-display") == "none"
    assert "-daemonize" not in argv


def test_kvm_accelerator() -> None:
    assert opt(build_argv(spec(vm(), accelerator=Accelerator.KVM)), "-accel") == "kvm"


def test_vnc_private_unix_socket_by_default() -> None:
    # No TCP port anybody on the host could reach: a socket in the VM's 0700 folder.
    assert opt(build_argv(spec(vm())), "-vnc") == f"unix:{RUN.vnc_socket}"
    assert RUN.vnc_socket.parent == RUN.path


def test_vnc_tcp_when_a_bind_address_is_asked_for() -> None:
    argv = build_argv(spec(vm(), vnc_listen="127.0.0.1"))
    assert opt(argv, "-vnc") == "127.0.0.1:0,to=99"


def test_vnc_fixed_port_from_conf() -> None:
    assert opt(build_argv(spec(vm(vncport=5907))), "-vnc") == "127.0.0.1:7"
    assert opt(build_argv(spec(vm(vncport=5907), vnc_listen="0.0.0.0")), "-vnc") == "0.0.0.0:7"


def test_vnc_bad_port_is_error() -> None:
    with pytest.raises(VmError, match="VNCPORT 80"):
        build_argv(spec(vm(vncport=80)))


def test_vnc_ipv6_and_disabled() -> None:
    assert opt(build_argv(spec(vm(), vnc_listen="::1")), "-vnc").startswith("[::1]:0")
    assert "-vnc" not in build_argv(spec(vm(), vnc=False))


def test_cli0_stdio_with_monitor_mux() -> None:
    argv = build_argv(spec(vm(), serial=SerialMode.STDIO))
    assert opt(argv, "-chardev").startswith("stdio,id=ser0,mux=on")
    assert opt(argv, "-mon") == "chardev=ser0,mode=readline"


def test_sdl_display() -> None:
    assert opt(build_argv(spec(vm(), display=DisplayMode.SDL)), "-display") == "sdl"


def test_hdd_boot_image_is_last() -> None:
    v = vm(hdd=(Path("/vms/vm1/disk.qcow2"), Path("/vms/vm1/data.img")))
    argv = build_argv(spec(v, boot=BootSpec(BootMode.HDD)))
    assert opt(argv, "-boot") == "order=c"
    assert argv[-1].startswith("file=/vms/vm1/disk.qcow2,index=0,media=disk,format=qcow2")
    assert "file=/vms/vm1/data.img,index=1,media=disk,format=raw" in argv


def test_cd_boot_with_override_path_last() -> None:
    v = vm(hdd=(Path("/vms/vm1/disk.qcow2"),), cdrom=Path("/iso/old.iso"))
    argv = build_argv(spec(v, boot=BootSpec(BootMode.CD, Path("/iso/new.iso"))))
    assert opt(argv, "-boot") == "order=d"
    assert argv[-1] == "file=/iso/new.iso,index=2,media=cdrom,format=raw"
    assert not any("old.iso" in a for a in argv)


@pytest.mark.parametrize("mode", [BootMode.CD, BootMode.DVD])
def test_cd_boot_without_iso_is_error(mode: BootMode) -> None:
    with pytest.raises(VmError, match="no CDROM"):
        build_argv(spec(vm(), boot=BootSpec(mode)))


@pytest.mark.parametrize("mode", [BootMode.HDD, BootMode.VHDD, BootMode.USB])
def test_disk_boot_without_disk_is_error(mode: BootMode) -> None:
    with pytest.raises(VmError, match="no HDD"):
        build_argv(spec(vm(), boot=BootSpec(mode)))


def test_fdd_and_pxe() -> None:
    argv = build_argv(spec(vm(fdd=Path("/f.img")), boot=BootSpec(BootMode.FDD)))
    assert opt(argv, "-boot") == "order=a"
    assert argv[-1].startswith("file=/f.img,if=floppy")
    argv = build_argv(spec(vm(hdd=(Path("/d.qcow2"),)), boot=BootSpec(BootMode.PXE)))
    assert opt(argv, "-boot") == "order=n"


def test_kernel_boot_from_conf_and_override() -> None:
    v = vm(kernel=Path("/k/vmlinuz"), initrd=Path("/k/initrd"), append="console=ttyS0")
    argv = build_argv(spec(v))
    assert argv[-2:] == ["-kernel", "/k/vmlinuz"]
    assert opt(argv, "-initrd") == "/k/initrd"
    assert opt(argv, "-append") == "console=ttyS0"
    argv = build_argv(spec(v, kernel=KernelSpec(Path("/other/bz"), None, "quiet")))
    assert opt(argv, "-kernel") == "/other/bz"
    assert "-initrd" not in argv
    assert opt(argv, "-append") == "quiet"


def test_passthrough_args_keep_words_and_come_before_boot_medium() -> None:
    v = vm(hdd=(Path("/d.qcow2"),), extra_args=("-rtc", "base=utc"))
    argv = build_argv(spec(v, argsadd=("-device", "virtio-rng-pci")))
    assert argv[argv.index("-rtc") : argv.index("-rtc") + 2] == ["-rtc", "base=utc"]
    assert argv.index("-device") < argv.index("-drive")
    assert argv[-1].startswith("file=/d.qcow2")


def test_commas_in_paths_and_labels_are_escaped() -> None:
    v = vm(label="a,b", hdd=(Path("/v/x,y.qcow2"),))
    argv = build_argv(spec(v))
    assert opt(argv, "-name") == "guest=a,,b"
    assert argv[-1].startswith("file=/v/x,,y.qcow2,")
    assert qemu_escape("p,q,,r") == "p,,q,,,,r"


def test_hostile_label_stays_one_argument() -> None:
    v = vm(label="x; rm -rf / $(id)")
    argv = build_argv(spec(v))
    assert opt(argv, "-name") == "guest=x; rm -rf / $(id)"


def test_a_command_line_scan_takes_the_command_monitor_not_the_event_one() -> None:
    from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline

    # LIST/INFO/CANCEL of a qemu they find by its command line must never try the event
    # socket: WATCH holds its one client connection.
    scanned = parse_qemu_cmdline(build_argv(spec(vm())))
    assert scanned.qmp_socket == str(RUN.qmp)
    assert str(RUN.events) != str(RUN.qmp)
