"""parse_qemu_cmdline: ctys's own command lines (a round trip through build_argv) and
realistic foreign ones of libvirt, quickemu, the original ctys and hand-made VMs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.plugins.qemu.boot.argv import VNC_LAST_DISPLAY, LaunchSpec, SerialMode, build_argv
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec
from ctys.plugins.qemu.vm.cmdline import (
    Drive,
    MediaKind,
    VncSpec,
    iter_options,
    parse_memory_mb,
    parse_opts,
    parse_qemu_cmdline,
    parse_smp,
    parse_vnc,
    split_opts,
)
from ctys.plugins.qemu.vm.processes import is_qemu_binary
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig

LIBVIRT = [
    "/usr/bin/qemu-system-x86_64",
    "-name", "guest=deb12,debug-threads=on",
    "-S",
    "-object", json.dumps({"qom-type": "secret", "id": "masterKey0", "format": "raw",
                           "file": "/var/lib/libvirt/qemu/domain-3-deb12/master-key.aes"}),
    "-blockdev", json.dumps({"driver": "file", "filename": "/usr/share/OVMF/OVMF_CODE_4M.fd",
                             "node-name": "libvirt-pflash0-storage", "auto-read-only": True}),
    "-machine", "pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off,memory-backend=pc.ram",
    "-accel", "kvm",
    "-cpu", "host,migratable=on",
    "-m", "2048",
    "-smp", "2,sockets=2,cores=1,threads=1",
    "-uuid", "0A1B2C3D-1111-2222-3333-444455556666",
    "-no-user-config",
    "-nodefaults",
    "-chardev", "socket,id=charmonitor,fd=31,server=on,wait=off",
    "-mon", "chardev=charmonitor,id=monitor,mode=control",
    "-rtc", "base=utc,driftfix=slew",
    "-no-hpet",
    "-no-shutdown",
    "-boot", "strict=on",
    "-blockdev", json.dumps({"driver": "file", "filename": "/var/lib/libvirt/images/deb12.qcow2",
                             "node-name": "libvirt-1-storage", "discard": "unmap"}),
    "-blockdev", json.dumps({"node-name": "libvirt-1-format", "read-only": False,
                             "driver": "qcow2", "file": "libvirt-1-storage"}),
    "-chardev", "pty,id=charserial0",
    "-device", '{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}',
    "-vnc", "127.0.0.1:0,audiodev=audio1",
    "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    "-msg", "timestamp=on",
]  # fmt: skip

LIBVIRT_OLD = [
    "/usr/libexec/qemu-kvm",
    "-name", "centos7",
    "-machine", "pc-i440fx-rhel7.0.0,accel=kvm,usb=off",
    "-m", "1024",
    "-uuid", "11111111-2222-3333-4444-555555555555",
    "-chardev",
    "socket,id=charmonitor,path=/var/lib/libvirt/qemu/domain-1-centos7/monitor.sock,server,nowait",
    "-mon", "chardev=charmonitor,id=monitor,mode=control",
    "-drive",
    "file=/var/lib/libvirt/images/centos7.qcow2,format=qcow2,if=none,id=drive-virtio-disk0",
    "-device",
    "virtio-blk-pci,scsi=off,bus=pci.0,addr=0x7,drive=drive-virtio-disk0,id=virtio-disk0",
    "-chardev",
    "socket,id=charserial0,path=/var/lib/libvirt/qemu/centos7-serial.sock,server,nowait",
    "-device", "isa-serial,chardev=charserial0,id=serial0",
    "-vnc", "0.0.0.0:5",
    "-msg", "timestamp=on",
]  # fmt: skip

QUICKEMU = [
    "qemu-system-x86_64",
    "-name", "ubuntu-22.04,process=ubuntu-22.04",
    "-pidfile", "ubuntu-22.04/ubuntu-22.04.pid",
    "-enable-kvm",
    "-machine", "q35,smm=off,vmport=off",
    "-smp", "cores=2,threads=2,sockets=1",
    "-m", "4G",
    "-device", "virtio-balloon",
    "-display", "sdl,gl=on",
    "-drive", "if=pflash,format=raw,unit=0,file=/usr/share/OVMF/OVMF_CODE_4M.fd,readonly=on",
    "-drive", "if=pflash,format=raw,unit=1,file=ubuntu-22.04/OVMF_VARS.fd",
    "-device", "virtio-blk-pci,drive=SystemDisk",
    "-drive", "id=SystemDisk,if=none,format=qcow2,file=ubuntu-22.04/disk.qcow2",
    "-monitor", "unix:ubuntu-22.04/ubuntu-22.04-monitor.socket,server,nowait",
    "-serial", "unix:ubuntu-22.04/ubuntu-22.04-serial.socket,server,nowait",
]  # fmt: skip

# The original ctys: boot image as the last, positional argument.
ORIGINAL = [
    "qemu-system-x86_64",
    "-name", "tst100",
    "-m", "256",
    "-net", "nic,macaddr=00:50:56:13:11:40",
    "-net", "tap,ifname=tap0,script=no",
    "-vnc", ":12",
    "-k", "de",
    "-nographic",
    "-serial", "mon:unix:/tmp/tst100.sock,server,nowait",
    "/mnt/vm/tst100/tst100.img",
]  # fmt: skip


def test_libvirt_json_style() -> None:
    cmd = parse_qemu_cmdline(LIBVIRT)
    assert cmd.name == "deb12"
    assert cmd.uuid == "0A1B2C3D-1111-2222-3333-444455556666"
    assert cmd.accelerator == "kvm"
    assert cmd.memory_mb == 2048
    assert cmd.smp == 2
    assert cmd.qmp_socket is None  # monitor passed as an fd: no path to show
    assert cmd.console_socket is None  # pty serial
    assert cmd.vnc == VncSpec(host="127.0.0.1", display=0)
    assert str(cmd.vnc) == "127.0.0.1:5900"
    assert cmd.boot_image is None  # last argument is "-msg timestamp=on"
    # The firmware blockdev is not taken for the VM's image.
    assert cmd.image == "/var/lib/libvirt/images/deb12.qcow2"
    assert Drive("/usr/share/OVMF/OVMF_CODE_4M.fd", MediaKind.FLASH) in cmd.drives


def test_libvirt_legacy_style() -> None:
    cmd = parse_qemu_cmdline(LIBVIRT_OLD)
    assert cmd.binary == "/usr/libexec/qemu-kvm"
    assert cmd.accelerator == "kvm"
    assert cmd.qmp_socket == "/var/lib/libvirt/qemu/domain-1-centos7/monitor.sock"
    assert cmd.console_socket == "/var/lib/libvirt/qemu/centos7-serial.sock"
    assert cmd.vnc == VncSpec(host="0.0.0.0", display=5)
    assert cmd.image == "/var/lib/libvirt/images/centos7.qcow2"


def test_quickemu_style() -> None:
    cmd = parse_qemu_cmdline(QUICKEMU)
    assert cmd.name == "ubuntu-22.04"
    assert cmd.accelerator == "kvm"
    assert cmd.smp == 4  # cores * threads * sockets
    assert cmd.memory_mb == 4096
    assert cmd.pidfile == "ubuntu-22.04/ubuntu-22.04.pid"
    # -monitor is HMP, not QMP
    assert cmd.qmp_socket is None
    assert cmd.console_socket == "ubuntu-22.04/ubuntu-22.04-serial.socket"
    assert cmd.vnc is None
    assert cmd.image == "ubuntu-22.04/disk.qcow2"  # pflash firmware/vars skipped
    kinds = [d.media for d in cmd.drives]
    assert kinds == [MediaKind.FLASH, MediaKind.FLASH, MediaKind.DISK]


def test_original_ctys_style_positional_boot_image() -> None:
    cmd = parse_qemu_cmdline(ORIGINAL)
    assert cmd.name == "tst100"
    assert cmd.boot_image == "/mnt/vm/tst100/tst100.img"
    assert cmd.positional == ("/mnt/vm/tst100/tst100.img",)
    assert cmd.vnc == VncSpec(host="", display=12)
    assert str(cmd.vnc) == "0.0.0.0:5912"
    assert cmd.console_socket == "/tmp/tst100.sock"
    assert cmd.accelerator is None


def test_flag_before_positional_image_is_not_taken_for_its_value() -> None:
    cmd = parse_qemu_cmdline(["qemu-system-i386", "-snapshot", "-no-reboot", "/vm/a.img"])
    assert cmd.boot_image == "/vm/a.img"


def test_kvm_wrapper_with_trailing_flag() -> None:
    argv = ["kvm", "-m", "1024", "-hda", "/vm/x/x.img", "-cdrom", "/iso/d.iso", "-boot", "d"]
    cmd = parse_qemu_cmdline([*argv, "-enable-kvm"])
    assert cmd.boot_image is None  # the last argument is a flag
    assert cmd.image == "/vm/x/x.img"
    assert cmd.drives == (Drive("/vm/x/x.img"), Drive("/iso/d.iso", MediaKind.CDROM))
    assert cmd.accelerator == "kvm"
    # Trailing -cdrom: the CD is the boot image.
    cmd = parse_qemu_cmdline([*argv[:5], "-boot", "d", "-cdrom", "/iso/d.iso"])
    assert cmd.boot_image == "/iso/d.iso"
    assert cmd.accelerator == "kvm"  # "kvm" binary defaults to KVM


def test_direct_kernel_boot_machine_accel_list() -> None:
    argv = [
        "qemu-system-aarch64", "-M", "virt,accel=kvm:tcg", "-cpu", "max",
        "-append", "console=ttyAMA0 root=/dev/vda", "-initrd", "/k/initrd",
        "-kernel", "/k/Image",
    ]  # fmt: skip
    cmd = parse_qemu_cmdline(argv)
    assert cmd.accelerator == "kvm:tcg"
    assert cmd.kernel == "/k/Image"
    assert cmd.boot_image == "/k/Image"
    assert cmd.image == "/k/Image"


def test_accel_options_accumulate_in_order_without_duplicates() -> None:
    argv = ["qemu-system-x86_64", "-accel", "kvm", "-accel", "tcg,thread=multi", "-enable-kvm"]
    assert parse_qemu_cmdline(argv).accelerator == "kvm:tcg"


def test_double_dash_options_and_escaped_commas() -> None:
    argv = [
        "qemu-system-x86_64", "--name", "guest=a,,b,process=x",
        "--drive", "file=/vms/my,,vm/disk,,1.img,format=raw",
    ]  # fmt: skip
    cmd = parse_qemu_cmdline(argv)
    assert cmd.name == "a,b"
    assert cmd.boot_image == "/vms/my,vm/disk,1.img"
    assert cmd.references("/vms/my,vm")


def test_empty_and_binary_only() -> None:
    assert parse_qemu_cmdline([]).binary == ""
    cmd = parse_qemu_cmdline(["qemu-system-x86_64"])
    assert cmd.image is None and cmd.name is None and cmd.drives == ()


def test_first_single_valued_option_wins() -> None:
    cmd = parse_qemu_cmdline(["q", "-name", "a", "-name", "b", "-vnc", "none", "-vnc", ":3"])
    assert cmd.name == "a"
    assert cmd.vnc is None


def test_trailing_option_without_value_is_a_flag() -> None:
    assert list(iter_options(["-name"])) == [("name", None)]
    assert list(iter_options(["-m", "1", "x", "-"])) == [("m", "1"), (None, "x"), (None, "-")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:3", VncSpec("127.0.0.1", 3)),
        (":1", VncSpec("", 1)),
        ("[::1]:2", VncSpec("::1", 2)),
        ("localhost:0,password=on,to=99", VncSpec("localhost", 0, last_display=99)),
        ("localhost:5,to=3", VncSpec("localhost", 5)),  # a range ending before it starts
        ("localhost:0,to=x", VncSpec("localhost", 0)),
        ("vnc=127.0.0.1:4", VncSpec("127.0.0.1", 4)),
        ("unix:/run/x/vnc.sock", VncSpec(unix_path="/run/x/vnc.sock")),
        ("none", None),
        ("garbage", None),
        ("host:x", None),
    ],
)
def test_parse_vnc(value: str, expected: VncSpec | None) -> None:
    assert parse_vnc(value) == expected


def test_vnc_str_forms() -> None:
    assert str(VncSpec("::1", 2)) == "[::1]:5902"
    assert str(VncSpec(unix_path="/s")) == "unix:/s"
    # ``to=N``: QEMU took the first free display of the range; the command line cannot
    # say which, so the column says it is a range.
    assert str(VncSpec("127.0.0.1", 0, last_display=99)) == "127.0.0.1:5900-5999"
    assert VncSpec("127.0.0.1", 0, last_display=99).port == 5900
    assert parse_qemu_cmdline(["q", "-display", "vnc=:7"]).vnc == VncSpec("", 7)


@pytest.mark.parametrize(
    ("value", "mb"),
    [
        ("512", 512),
        ("512M", 512),
        ("2G", 2048),
        ("2g", 2048),
        ("1.5G", 1536),
        ("size=1024M,slots=2,maxmem=4G", 1024),
        ("1T", 1 << 20),
        ("1048576K", 1024),
        ("lots", None),
        ("12X", None),
    ],
)
def test_parse_memory(value: str, mb: int | None) -> None:
    assert parse_memory_mb(value) == mb


@pytest.mark.parametrize(
    ("value", "cpus"),
    [("4", 4), ("cpus=3,maxcpus=8", 3), ("sockets=2,cores=4,threads=2", 16), ("x", None)],
)
def test_parse_smp(value: str, cpus: int | None) -> None:
    assert parse_smp(value) == cpus


def test_parse_opts_legacy_booleans_and_json() -> None:
    assert parse_opts("unix:/s,server,nowait") == {"unix:/s": "on", "server": "on", "wait": "off"}
    assert parse_opts("foo,process=bar", implied="guest") == {"guest": "foo", "process": "bar"}
    assert parse_opts('{"driver":"file","filename":"/a","ro":true,"x":{"y":1}}') == {
        "driver": "file",
        "filename": "/a",
        "ro": "True",
    }
    assert parse_opts("{not json") == {}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("qemu-system-x86_64", True),
        ("/usr/bin/qemu-system-aarch64", True),
        ("/usr/libexec/qemu-kvm", True),
        ("/usr/bin/kvm", True),
        ("qemu-img", False),
        ("kvm-ok", False),
        ("python3", False),
        ("qemu-system-", False),
    ],
)
def test_is_qemu_binary(name: str, expected: bool) -> None:
    assert is_qemu_binary(name) is expected


# QEMU's escaping is ambiguous for values that are empty or start with a comma ("a" + ",b"
# and "a," + "b" both give "a,,,b"); QEMU reads them the same greedy way we do.
_value = st.text(alphabet=st.sampled_from("ab,=/ x"), min_size=1, max_size=8).filter(
    lambda v: not v.startswith(",")
)


@given(st.lists(_value, min_size=1, max_size=5))
def test_split_opts_inverts_comma_escaping(values: list[str]) -> None:
    joined = ",".join(v.replace(",", ",,") for v in values)
    assert split_opts(joined) == values


@given(st.lists(st.text(alphabet=st.sampled_from('-abmz:=,/{}"1 '), max_size=10), max_size=12))
def test_parse_never_fails_on_arbitrary_argv(argv: list[str]) -> None:
    cmd = parse_qemu_cmdline(["qemu-system-x86_64", *argv])
    assert cmd.binary == "qemu-system-x86_64"
    if cmd.boot_image is not None:
        assert cmd.image == cmd.boot_image


# --- Round trip: what build_argv writes, parse_qemu_cmdline reads back. ---------------------

# Path and label pieces with the characters QEMU's option syntax cares about.
_word = st.text(alphabet=st.sampled_from("abz09._-, =@"), min_size=1, max_size=8).filter(
    # "." and ".." are no names: Path("/", ".") is "/", which has no file name to suffix.
    lambda w: w.strip(" ") == w and not w.startswith("-") and w not in (".", "..")
)
_dir = st.lists(_word, min_size=1, max_size=3).map(lambda parts: Path("/", *parts))
_image = st.tuples(_dir, _word, st.sampled_from([".qcow2", ".img", ".raw", ".vmdk", ""])).map(
    lambda t: t[0] / f"{t[1]}{t[2]}"
)


@st.composite
def launch_specs(draw: st.DrawFn) -> LaunchSpec:
    """A LaunchSpec for a VM booting a disk, a CD or a kernel; any label, uuid, VNC, serial."""
    hdd = tuple(draw(st.lists(_image, max_size=3, unique=True)))
    cdrom = draw(st.none() | _image.map(lambda p: p.with_suffix(".iso")))
    modes = [BootMode.HDD] * bool(hdd) + [BootMode.CD] * (cdrom is not None and cdrom not in hdd)
    if not modes:
        hdd = (draw(_image),)
        modes = [BootMode.HDD]
    vm = VmConfig(
        conf_path=draw(_dir) / "vm.conf",
        label=draw(_word),
        uuid=draw(st.none() | st.uuids().map(str)),
        memsize_mb=draw(st.integers(16, 65536)),
        vcpu=draw(st.integers(1, 64)),
        vncport=draw(st.none() | st.integers(5900, 6100)),
        hdd=hdd,
        cdrom=cdrom,
        kernel=draw(st.none() | _image),
    )
    return LaunchSpec(
        vm=vm,
        binary=draw(st.sampled_from(["qemu-system-x86_64", "/usr/bin/qemu-system-aarch64"])),
        accelerator=draw(st.sampled_from([Accelerator.TCG, Accelerator.KVM])),
        rundir=VmRuntimeDir(draw(_dir) / "vms" / "vm-0123abcd"),
        serial=draw(st.sampled_from([SerialMode.SOCKET, SerialMode.STDIO])),
        vnc=draw(st.booleans()),
        vnc_listen=draw(st.none() | st.sampled_from(["127.0.0.1", "0.0.0.0", "::1"])),
        daemonize=draw(st.booleans()),
        boot=BootSpec(draw(st.sampled_from(modes))),
    )


def _boot_medium(spec: LaunchSpec) -> Path:
    if spec.vm.kernel is not None:
        return spec.vm.kernel  # direct kernel boot: -kernel comes last
    assert spec.boot is not None
    if spec.boot.mode is BootMode.CD:
        assert spec.vm.cdrom is not None
        return spec.vm.cdrom
    return spec.vm.hdd[0]


@given(launch_specs())
def test_parse_recovers_what_build_argv_wrote(spec: LaunchSpec) -> None:
    argv = build_argv(spec)
    cmd = parse_qemu_cmdline(argv)
    vm = spec.vm
    assert cmd.binary == spec.binary
    assert cmd.name == vm.label
    assert cmd.uuid == vm.uuid
    assert cmd.accelerator == ("kvm" if spec.accelerator is Accelerator.KVM else "tcg")
    assert cmd.memory_mb == vm.memsize_mb
    assert cmd.smp == vm.vcpu
    assert cmd.qmp_socket == str(spec.rundir.qmp)
    assert cmd.pidfile == str(spec.rundir.pidfile)
    serial_socket = spec.serial == SerialMode.SOCKET
    assert cmd.console_socket == (str(spec.rundir.console) if serial_socket else None)
    # The medium booted from is the last one, whatever the other disks are.
    assert cmd.boot_image == str(_boot_medium(spec))
    assert cmd.image == str(_boot_medium(spec))
    assert cmd.kernel == (str(vm.kernel) if vm.kernel is not None else None)
    media = [*vm.hdd, *([vm.cdrom] if vm.cdrom is not None else [])]
    assert sorted(d.file for d in cmd.drives) == sorted(str(m) for m in media)
    assert cmd.references(str(spec.rundir.path))
    if not spec.vnc:
        assert cmd.vnc is None
    elif spec.vnc_listen is None and vm.vncport is None:
        assert cmd.vnc == VncSpec(unix_path=str(spec.rundir.vnc_socket))
    else:
        assert cmd.vnc is not None
        assert cmd.vnc.host == (spec.vnc_listen or "127.0.0.1")
        if vm.vncport is not None:
            assert cmd.vnc.port == vm.vncport
            assert cmd.vnc.last_display is None
        else:
            assert (cmd.vnc.display, cmd.vnc.last_display) == (0, VNC_LAST_DISPLAY)
