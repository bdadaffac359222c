"""INSTMODE: parsing, the install boot's qemu argv, and INIT's fresh target image."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ctys.cli.main import main
from ctys.conf.rawconf import RawConf
from ctys.errors import CommandError, UsageError, VmError
from ctys.invocation import ActionCall, Suboption
from ctys.plugins.qemu.boot.argv import LaunchSpec, build_argv
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec, KernelSpec
from ctys.plugins.qemu.boot.instmode import (
    DEFAULT_INIT_SIZE,
    InstallSpec,
    check_install_media,
    init_size,
    parse_install,
    parse_size,
    prepare_target,
    write_install_note,
)
from ctys.plugins.qemu.requests import parse_create
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig

RUN = VmRuntimeDir(Path("/run/ctys/vms/vm1-0123abcd"))
MIB = 1024**2
needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")


def instmode(text: str) -> ActionCall:
    return ActionCall(
        "CREATE",
        (
            Suboption("L", ("vm1",), "l:vm1"),
            Suboption("INSTMODE", tuple(text.split("%")), f"INSTMODE:{text}"),
        ),
    )


def vm(**kw: object) -> VmConfig:
    base: dict[str, object] = {
        "conf_path": Path("/vms/vm1/vm1.conf"),
        "label": "vm1",
        "hdd": (Path("/vms/vm1/vm1.qcow2"), Path("/vms/vm1/data.img")),
        "cdrom": Path("/iso/conf.iso"),
    }
    base.update(kw)
    return VmConfig(**base)  # type: ignore[arg-type]


def argv_for(v: VmConfig, spec: InstallSpec, **kw: object) -> list[str]:
    launch: dict[str, object] = {
        "vm": v,
        "binary": "qemu-system-x86_64",
        "accelerator": Accelerator.TCG,
        "rundir": RUN,
        "install": spec,
    }
    launch.update(kw)
    return build_argv(LaunchSpec(**launch))  # type: ignore[arg-type]


def media(argv: list[str]) -> list[str]:
    """The media part of the argv: from the first -boot/-drive/-usb on."""
    starts = [i for i, a in enumerate(argv) if a in ("-boot", "-drive", "-usb", "-kernel")]
    return argv[min(starts) :]


# -- parsing ----------------------------------------------------------------------------


def test_parse_full() -> None:
    req = parse_create(instmode("cd%/iso/inst.iso%hdd%/vms/t.qcow2%init"))
    assert req.install == InstallSpec(
        BootSpec(BootMode.CD, Path("/iso/inst.iso")),
        BootSpec(BootMode.HDD, Path("/vms/t.qcow2")),
        "INIT",
    )
    assert req.install.init


def test_parse_defaults_and_custom_word() -> None:
    req = parse_create(instmode("DVD%%VHDD%%postinst.v2"))
    assert req.install is not None
    assert req.install.source == BootSpec(BootMode.DVD, None)
    assert req.install.target == BootSpec(BootMode.VHDD, None)
    assert req.install.action == "postinst.v2"
    assert not req.install.init


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("CD%%HDD%%", "INIT or a custom mode"),
        ("CD%%HDD", "5 fields, got 3"),
        ("CD%%HDD%%INIT%x", "5 fields, got 6"),
        ("XX%%HDD%%INIT", "bad SRCMODE 'XX'"),
        ("%%HDD%%INIT", "bad SRCMODE '(empty)'"),
        ("CD%%CD%%INIT", "bad TGTMODE 'CD' (HDD|VHDD|USB)"),
        ("CD%%PXE%%INIT", "bad TGTMODE 'PXE'"),
        ("CD%%%%INIT", "bad TGTMODE '(empty)'"),
        ("CD%%HDD%%two words", "custom mode 'two words' must be one word"),
        ("CD%%HDD%%a=$(id)", "custom mode 'a=$(id)'"),
        ("HDD%%HDD%%INIT", "SRCMODE HDD needs a SRCPATH"),
        ("USB%%HDD%%INIT", "SRCMODE USB needs a SRCPATH"),
    ],
)
def test_parse_errors_name_the_bad_token(text: str, named: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_create(instmode(text))
    assert named in str(err.value)
    assert f"INSTMODE:{text}" in str(err.value)
    assert err.value.exit_code == 2


def test_instmode_with_bootmode_or_connect_is_refused() -> None:
    call = instmode("CD%%HDD%%INIT")
    both = ActionCall("CREATE", (*call.suboptions, Suboption("BOOTMODE", ("CD",), "BOOTMODE:CD")))
    with pytest.raises(UsageError, match="drop BOOTMODE"):
        parse_create(both)
    conn = ActionCall("CREATE", (*call.suboptions, Suboption("CONNECT", (), "CONNECT")))
    with pytest.raises(UsageError, match="CONNECT only attaches"):
        parse_create(conn)


def test_bad_instmode_through_the_cli_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CTYS_VMPATH", str(tmp_path))
    monkeypatch.setenv("CTYS_RUNTIME_DIR", str(tmp_path / "rt"))
    # Not the user's own inventory (another ctys may have written a newer schema there).
    monkeypatch.setenv("CTYS_INVENTORY", str(tmp_path / "inventory.sqlite"))
    code = main(["-t", "QEMU", "-a", "CREATE=l:nothere,INSTMODE:FOO%%HDD%%INIT"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "bad SRCMODE 'FOO'" in err and err.count("\n") == 1


# -- argv -------------------------------------------------------------------------------


def test_cd_source_boots_once_from_cd_with_target_first() -> None:
    spec = parse_install(["CD", "/iso/inst.iso", "HDD", "", "INIT"], "INSTMODE")
    assert media(argv_for(vm(), spec)) == [
        "-boot", "once=d",
        "-drive", "file=/vms/vm1/vm1.qcow2,index=0,media=disk,format=qcow2",
        "-drive", "file=/vms/vm1/data.img,index=1,media=disk,format=raw",
        "-drive", "file=/iso/inst.iso,index=2,media=cdrom,format=raw",
    ]  # fmt: skip


def test_empty_paths_use_the_conf_media_and_tgtpath_replaces_first_disk() -> None:
    spec = parse_install(["DVD", "", "HDD", "/other/t,1.qcow2", "custom"], "INSTMODE")
    argv = media(argv_for(vm(), spec))
    assert argv[:4] == [
        "-boot",
        "once=d",
        "-drive",
        "file=/other/t,,1.qcow2,index=0,media=disk,format=qcow2",
    ]
    assert argv[-1] == "file=/iso/conf.iso,index=2,media=cdrom,format=raw"


def test_cd_source_without_any_cdrom_is_an_error() -> None:
    spec = parse_install(["CD", "", "HDD", "", "INIT"], "INSTMODE")
    with pytest.raises(VmError, match="has no CDROM; give a SRCPATH"):
        argv_for(vm(cdrom=None), spec)


def test_no_target_disk_is_an_error() -> None:
    spec = parse_install(["CD", "", "HDD", "", "INIT"], "INSTMODE")
    with pytest.raises(VmError, match="no HDD to install onto; give a TGTPATH"):
        argv_for(vm(hdd=()), spec)


def test_usb_source_is_a_bootable_usb_stick_and_conf_cdrom_is_left_out() -> None:
    spec = parse_install(["USB", "/img/stick.img", "HDD", "", "INIT"], "INSTMODE")
    argv = media(argv_for(vm(hdd=(Path("/vms/vm1/vm1.qcow2"),)), spec))
    assert argv == [
        "-drive", "file=/vms/vm1/vm1.qcow2,index=0,media=disk,format=qcow2",
        "-usb",
        "-drive", "file=/img/stick.img,if=none,id=instsrc,format=raw",
        "-device", "usb-storage,drive=instsrc,bootindex=0",
    ]  # fmt: skip
    assert "/iso/conf.iso" not in " ".join(argv)


def test_hdd_source_is_a_second_bootable_disk() -> None:
    spec = parse_install(["HDD", "/img/installer.qcow2", "VHDD", "", "INIT"], "INSTMODE")
    argv = media(argv_for(vm(hdd=(Path("/vms/vm1/vm1.qcow2"),)), spec))
    assert argv[-4:] == [
        "-drive", "file=/img/installer.qcow2,if=none,id=instsrc,format=qcow2",
        "-device", "virtio-blk-pci,drive=instsrc,bootindex=0",
    ]  # fmt: skip
    assert "-boot" not in argv


def test_source_equal_to_target_is_an_error() -> None:
    spec = parse_install(["HDD", "/vms/vm1/vm1.qcow2", "HDD", "", "INIT"], "INSTMODE")
    with pytest.raises(VmError, match="source and target are the same image"):
        argv_for(vm(), spec)


def test_pxe_and_fdd_sources() -> None:
    pxe = media(argv_for(vm(), parse_install(["PXE", "", "HDD", "", "INIT"], "I")))
    assert pxe[:2] == ["-boot", "once=n"]
    assert "media=cdrom" not in " ".join(pxe)
    fdd = media(argv_for(vm(), parse_install(["FDD", "/f.img", "HDD", "", "INIT"], "I")))
    assert fdd[:2] == ["-boot", "once=a"]
    assert fdd[-2:] == ["-drive", "file=/f.img,if=floppy,index=0,format=raw"]


def test_kernel_boot_gets_the_mode_on_its_command_line() -> None:
    v = vm(kernel=Path("/k/vmlinuz"), initrd=Path("/k/initrd"), append="console=ttyS0")
    argv = argv_for(v, parse_install(["CD", "/i.iso", "HDD", "", "postinst"], "I"))
    assert argv[-6:] == [
        "-append", "console=ttyS0 ctys.instmode=postinst",
        "-initrd", "/k/initrd",
        "-kernel", "/k/vmlinuz",
    ]  # fmt: skip
    k = KernelSpec(Path("/k2"))
    argv = argv_for(vm(), parse_install(["CD", "/i.iso", "HDD", "", "INIT"], "I"), kernel=k)
    assert argv[-4:] == ["-append", "ctys.instmode=INIT", "-kernel", "/k2"]


def test_without_kernel_nothing_is_appended() -> None:
    argv = argv_for(vm(), parse_install(["CD", "/i.iso", "HDD", "", "INIT"], "I"))
    assert "-append" not in argv and "-kernel" not in argv


# -- checks before the boot -----------------------------------------------------------


def test_init_does_not_need_the_target_to_exist(tmp_path: Path) -> None:
    iso = tmp_path / "i.iso"
    iso.write_bytes(b"x")
    v = vm(hdd=(tmp_path / "vm1.qcow2",), cdrom=None)
    checked = check_install_media(v, parse_install(["CD", str(iso), "HDD", "", "INIT"], "I"))
    assert checked.hdd == () and checked.cdrom == iso
    kept = check_install_media(v, parse_install(["CD", str(iso), "HDD", "", "post"], "I"))
    assert kept.hdd == (tmp_path / "vm1.qcow2",)


def test_init_target_folder_must_exist(tmp_path: Path) -> None:
    v = vm(hdd=(tmp_path / "nope" / "vm1.qcow2",))
    with pytest.raises(VmError, match=r"folder .*nope of target"):
        check_install_media(v, parse_install(["CD", "", "HDD", "", "INIT"], "I"))


def test_disk_source_must_exist(tmp_path: Path) -> None:
    with pytest.raises(VmError, match=r"source image .*missing\.img is not a file"):
        check_install_media(
            vm(), parse_install(["USB", str(tmp_path / "missing.img"), "HDD", "", "x"], "I")
        )


def test_install_note(tmp_path: Path) -> None:
    spec = parse_install(["CD", "/i.iso", "HDD", "", "post"], "I")
    write_install_note(tmp_path, spec, Path("/t.qcow2"))
    note = json.loads((tmp_path / "instmode.json").read_text())
    assert note == {
        "action": "post",
        "source_mode": "CD",
        "source": "/i.iso",
        "target_mode": "HDD",
        "target": "/t.qcow2",
    }


# -- sizes and INIT --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [("8G", 8 * 1024**3), ("512M", 512 * MIB), ("1T", 1024**4), ("8GiB", 8 * 1024**3),
     ("2gb", 2 * 1024**3), ("1048576", MIB), ("4096K", 4 * MIB), (" 1G ", 1024**3)],
)  # fmt: skip
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "8X", "-1G", "1.5G", "1K", "\u0661G"])
def test_parse_size_errors(text: str) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def conf_vm(
    tmp_path: Path, keys: dict[str, str], variables: dict[str, str] | None = None
) -> VmConfig:
    raw = RawConf(tmp_path / "vm1.conf", variables or {}, keys, frozenset({"MAGICID-QEMU"}))
    return VmConfig(tmp_path / "vm1.conf", "vm1", hdd=(tmp_path / "vm1.qcow2",), raw=raw)


def qemu_info(path: Path) -> dict[str, object]:
    out = subprocess.run(["qemu-img", "info", "--output=json", str(path)], capture_output=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def qemu_io(path: Path, command: str) -> str:
    done = subprocess.run(["qemu-io", "-c", command, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_init_size_sources(tmp_path: Path) -> None:
    assert (
        init_size(conf_vm(tmp_path, {"INSTSIZE": "3G", "HDDSIZE": "4G"}), tmp_path / "x")
        == 3 * 1024**3
    )
    assert init_size(conf_vm(tmp_path, {}, {"HDDSIZE": "5M"}), tmp_path / "x") == 5 * MIB
    assert init_size(conf_vm(tmp_path, {}), tmp_path / "missing") == DEFAULT_INIT_SIZE
    with pytest.raises(VmError, match=r"vm1\.conf: INSTSIZE: not a size"):
        init_size(conf_vm(tmp_path, {"INSTSIZE": "big"}), tmp_path / "x")


@needs_qemu_img
def test_init_replaces_the_target_atomically_keeping_its_size(tmp_path: Path) -> None:
    target = tmp_path / "vm1.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(target), "7M"], check=True)
    qemu_io(target, "write -P 0xab 0 64k")
    assert "Pattern verification failed" not in qemu_io(target, "read -P 0xab 0 64k")
    inode = target.stat().st_ino
    fresh = prepare_target(conf_vm(tmp_path, {}), parse_install(["CD", "", "HDD", "", "INIT"], "I"))
    assert (fresh.path, fresh.size, fresh.fmt) == (target, 7 * MIB, "qcow2")
    info = qemu_info(target)
    assert (info["virtual-size"], info["format"]) == (7 * MIB, "qcow2")
    assert target.stat().st_ino != inode
    # The old data is gone: the fresh image reads as zeros.
    assert "Pattern verification failed" not in qemu_io(target, "read -P 0 0 64k")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vm1.qcow2"]  # no temp file left


@needs_qemu_img
def test_init_creates_a_missing_target_with_the_conf_size(tmp_path: Path) -> None:
    v = conf_vm(tmp_path, {"HDDSIZE": "3M"})
    prepare_target(v, parse_install(["CD", "", "HDD", str(tmp_path / "new.img"), "INIT"], "I"))
    info = qemu_info(tmp_path / "new.img")
    assert (info["virtual-size"], info["format"]) == (3 * MIB, "raw")


def test_failing_qemu_img_leaves_the_old_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "vm1.qcow2"
    target.write_bytes(b"old image")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "qemu-img"
    fake.write_text(
        '#!/bin/sh\n[ "$1" = create ] && echo half >"$6"\necho "no space" >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(CommandError, match="no space"):
        prepare_target(
            conf_vm(tmp_path, {"HDDSIZE": "1G"}), parse_install(["CD", "", "HDD", "", "INIT"], "I")
        )
    assert target.read_bytes() == b"old image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "vm1.qcow2"]
