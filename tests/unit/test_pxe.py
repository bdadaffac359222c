"""BOOTMODE:PXE%TFTPROOT[%BOOTFILE]: QEMU's user-mode TFTP serves the folder; checks first."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctys.errors import UsageError, VmError
from ctys.invocation import ActionCall, Suboption
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec
from ctys.plugins.qemu.boot.instmode import parse_install
from ctys.plugins.qemu.boot.pxe import check_pxe, pxe_network
from ctys.plugins.qemu.net.netconf import network_config
from ctys.plugins.qemu.requests import parse_create
from ctys.plugins.qemu.vmconfig import VmConfig
from support.launch import conf_vm, launch_argv, option_values


def make_vm(tmp_path: Path, conf: str = "") -> VmConfig:
    return conf_vm(tmp_path / "vm1.conf", conf)


@pytest.fixture
def tftp(tmp_path: Path) -> Path:
    root = tmp_path / "tftp"
    (root / "sub").mkdir(parents=True)
    (root / "pxelinux.0").write_bytes(b"pxe")
    (root / "sub" / "boot.efi").write_bytes(b"efi")
    return root


def argv_for(vm: VmConfig, tmp_path: Path, **kw: object) -> list[str]:
    return launch_argv(vm, tmp_path, **kw)


def netdevs(argv: list[str]) -> list[str]:
    return option_values(argv, "-netdev")


def test_pxe_root_served_over_user_mode_tftp(tmp_path: Path, tftp: Path) -> None:
    argv = argv_for(make_vm(tmp_path), tmp_path, boot=BootSpec(BootMode.PXE, tftp))
    assert netdevs(argv) == [f"user,id=net0,tftp={tftp},bootfile=pxelinux.0"]
    assert argv[argv.index("-boot") + 1] == "order=n"


def test_pxe_bootfile_in_a_subfolder(tmp_path: Path, tftp: Path) -> None:
    boot = BootSpec(BootMode.PXE, tftp, "sub/boot.efi")
    argv = argv_for(make_vm(tmp_path), tmp_path, boot=boot)
    assert netdevs(argv) == [f"user,id=net0,tftp={tftp},bootfile=sub/boot.efi"]


def test_pxe_without_root_adds_no_tftp(tmp_path: Path) -> None:
    argv = argv_for(make_vm(tmp_path), tmp_path, boot=BootSpec(BootMode.PXE))
    assert netdevs(argv) == ["user,id=net0"]


def test_conf_key_gives_the_default_root(tmp_path: Path, tftp: Path) -> None:
    vm = make_vm(tmp_path, "#@#TFTPROOT = tftp\n#@#TFTPBOOTFILE = sub/boot.efi\n")
    argv = argv_for(vm, tmp_path, boot=BootSpec(BootMode.PXE))
    assert netdevs(argv) == [f"user,id=net0,tftp={tftp},bootfile=sub/boot.efi"]
    # ... and only for PXE boots.
    assert netdevs(argv_for(vm, tmp_path, boot=None)) == ["user,id=net0"]


def test_root_with_a_comma_is_escaped(tmp_path: Path) -> None:
    root = tmp_path / "a,b"
    root.mkdir()
    (root / "pxelinux.0").write_bytes(b"")
    argv = argv_for(make_vm(tmp_path), tmp_path, boot=BootSpec(BootMode.PXE, root))
    assert f"tftp={str(root).replace(',', ',,')}," in netdevs(argv)[0]


def test_lan_nic_uses_the_lans_pxe_server(tmp_path: Path, tftp: Path) -> None:
    """A conf default root is ignored on a VDE/tap/bridge NIC; an explicit one is an error."""
    vm = make_vm(tmp_path, "#@#VDENET = lan\n#@#TFTPROOT = tftp\n")
    net = pxe_network(network_config(vm), vm, BootSpec(BootMode.PXE))
    assert all(nic.tftp is None for nic in net.nics)
    with pytest.raises(VmError, match="no user-mode NIC"):
        pxe_network(network_config(vm), vm, BootSpec(BootMode.PXE, tftp))


def test_missing_root_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(VmError, match=r"TFTP root .*nope does not exist") as err:
        check_pxe(make_vm(tmp_path), BootSpec(BootMode.PXE, tmp_path / "nope"))
    assert "\n" not in str(err.value)


def test_root_that_is_a_file_is_error(tmp_path: Path, tftp: Path) -> None:
    with pytest.raises(VmError, match="is not a folder"):
        check_pxe(make_vm(tmp_path), BootSpec(BootMode.PXE, tftp / "pxelinux.0"))


def test_missing_bootfile_is_error(tmp_path: Path, tftp: Path) -> None:
    with pytest.raises(VmError, match=r"boot file 'x.0' is not in TFTP root"):
        check_pxe(make_vm(tmp_path), BootSpec(BootMode.PXE, tftp, "x.0"))
    (tftp / "pxelinux.0").unlink()
    with pytest.raises(VmError, match=r"boot file 'pxelinux.0'"):
        check_pxe(make_vm(tmp_path), BootSpec(BootMode.PXE, tftp))


@pytest.mark.parametrize("bootfile", ["/etc/passwd", "../x", "sub/../../x"])
def test_bootfile_outside_root_is_error(tmp_path: Path, tftp: Path, bootfile: str) -> None:
    with pytest.raises(VmError, match="inside the TFTP root"):
        check_pxe(make_vm(tmp_path), BootSpec(BootMode.PXE, tftp, bootfile))


def test_conf_root_missing_is_error_naming_the_key(tmp_path: Path) -> None:
    vm = make_vm(tmp_path, "#@#TFTPROOT = gone\n")
    with pytest.raises(VmError, match=r"#@#TFTPROOT.*gone does not exist"):
        check_pxe(vm, BootSpec(BootMode.PXE))


def test_no_root_needs_no_check(tmp_path: Path) -> None:
    check_pxe(make_vm(tmp_path), BootSpec(BootMode.PXE))


def sub(key: str, *args: str) -> Suboption:
    return Suboption(key, args, f"{key}:{'%'.join(args)}")


def test_bootmode_pxe_takes_root_and_bootfile() -> None:
    req = parse_create(ActionCall("CREATE", (sub("L", "vm1"), sub("BOOTMODE", "pxe", "/t", "b.0"))))
    assert req.boot == BootSpec(BootMode.PXE, Path("/t"), "b.0")


def test_only_pxe_takes_a_bootfile() -> None:
    with pytest.raises(UsageError, match="BOOTMODE:MODE"):
        parse_create(ActionCall("CREATE", (sub("L", "vm1"), sub("BOOTMODE", "CD", "/x", "y"))))


def test_instmode_pxe_source_path_is_the_tftp_root(tmp_path: Path, tftp: Path) -> None:
    install = parse_install(["PXE", str(tftp), "HDD", str(tmp_path / "t.qcow2"), "INIT"], "I")
    argv = argv_for(make_vm(tmp_path), tmp_path, install=install)
    assert netdevs(argv) == [f"user,id=net0,tftp={tftp},bootfile=pxelinux.0"]
    assert argv[argv.index("-boot") + 1] == "once=n"
