"""#@#FIRMWARE = UEFI|UEFI-SECURE|BIOS: QEMU's firmware descriptors, the pflash argv and
the per-VM variable store."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ctys.errors import VmError
from ctys.plugins.qemu.boot.uefi import (
    FirmwareKind,
    ensure_varstore,
    firmware_kind,
    uefi_boot,
)
from ctys.plugins.qemu.host.firmware import find_firmware, firmware_lines
from ctys.plugins.qemu.vmconfig import VmConfig
from support.launch import conf_vm, launch_argv


def descriptor(
    folder: Path, name: str, code: Path, vars_: Path, features: list[str], machines: list[str]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    code.write_bytes(b"C" * 64)
    vars_.write_bytes(b"V" * 32)
    body = {
        "description": name,
        "interface-types": ["uefi"],
        "mapping": {
            "device": "flash",
            "executable": {"filename": str(code), "format": "raw"},
            "nvram-template": {"filename": str(vars_), "format": "raw"},
        },
        "targets": [{"architecture": "x86_64", "machines": machines}],
        "features": features,
        "tags": [],
    }
    (folder / name).write_text(json.dumps(body))


@pytest.fixture
def fwdir(tmp_path: Path) -> Path:
    d = tmp_path / "firmware"
    fw = tmp_path / "ovmf"
    fw.mkdir()
    descriptor(d, "40-secure-enrolled.json", fw / "CODE.secboot.fd", fw / "VARS.ms.fd",
               ["enrolled-keys", "requires-smm", "secure-boot"], ["pc-q35-*"])  # fmt: skip
    descriptor(d, "50-secure.json", fw / "CODE.secboot.fd", fw / "VARS.fd",
               ["requires-smm", "secure-boot"], ["pc-q35-*"])  # fmt: skip
    descriptor(d, "60-plain.json", fw / "CODE.fd", fw / "VARS.fd",
               ["acpi-s3"], ["pc-i440fx-*", "pc-q35-*"])  # fmt: skip
    (d / "70-broken.json").write_text("{not json")
    return d


def make_vm(tmp_path: Path, conf: str, machine: str | None = None) -> VmConfig:
    (tmp_path / "vm").mkdir(exist_ok=True)
    return conf_vm(tmp_path / "vm" / "vm1.conf", conf, machine=machine)


def argv_of(vm: VmConfig, tmp_path: Path, fwdir: Path) -> list[str]:
    return launch_argv(vm, tmp_path, firmware=uefi_boot(vm, (fwdir,)))


def test_descriptors_found_in_priority_order(fwdir: Path) -> None:
    found = find_firmware((fwdir,))
    assert [f.descriptor.name for f in found] == [
        "40-secure-enrolled.json",
        "50-secure.json",
        "60-plain.json",
    ]
    assert found[2].code.name == "CODE.fd" and found[2].vars_template is not None


def test_user_descriptor_overrides_the_system_one_of_the_same_name(
    tmp_path: Path, fwdir: Path
) -> None:
    user = tmp_path / "user"
    descriptor(user, "60-plain.json", tmp_path / "mine.fd", tmp_path / "mine_vars.fd", [],
               ["pc-i440fx-*"])  # fmt: skip
    plain = [f for f in find_firmware((fwdir, user)) if f.descriptor.name == "60-plain.json"]
    assert [f.code.name for f in plain] == ["mine.fd"]


def test_info_lines_list_the_firmware_files(fwdir: Path) -> None:
    lines = firmware_lines(find_firmware((fwdir,)))
    assert any("UEFI" in line and "CODE.fd" in line and "VARS.fd" in line for line in lines)
    assert any("secure-boot" in line and "CODE.secboot.fd" in line for line in lines)
    assert firmware_lines([]) == ["firmware: no UEFI firmware found (Debian: apt install ovmf)"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("", FirmwareKind.BIOS), ("#@#FIRMWARE = bios\n", FirmwareKind.BIOS),
     ("#@#FIRMWARE = UEFI\n", FirmwareKind.UEFI), ("FIRMWARE=uefi\n", FirmwareKind.UEFI),
     ("#@#FIRMWARE = UEFI-SECURE\n", FirmwareKind.UEFI_SECURE),
     ("#@#FIRMWARE = SecureBoot\n", FirmwareKind.UEFI_SECURE)],
)  # fmt: skip
def test_firmware_key(tmp_path: Path, text: str, kind: FirmwareKind) -> None:
    assert firmware_kind(make_vm(tmp_path, text)) is kind


def test_bad_firmware_value_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(VmError, match=r"vm1.conf: #@#FIRMWARE: unknown firmware 'coreboot'"):
        firmware_kind(make_vm(tmp_path, "#@#FIRMWARE = coreboot\n"))


def test_bios_vm_gets_no_pflash(tmp_path: Path, fwdir: Path) -> None:
    argv = argv_of(make_vm(tmp_path, ""), tmp_path, fwdir)
    assert not any("if=pflash" in a for a in argv)


def test_uefi_argv_code_read_only_and_per_vm_vars(tmp_path: Path, fwdir: Path) -> None:
    vm = make_vm(tmp_path, "#@#FIRMWARE = UEFI\n")
    argv = argv_of(vm, tmp_path, fwdir)
    drives = [argv[i + 1] for i, a in enumerate(argv) if a == "-drive" and "pflash" in argv[i + 1]]
    assert drives == [
        f"if=pflash,format=raw,unit=0,readonly=on,file={fwdir.parent / 'ovmf' / 'CODE.fd'}",
        f"if=pflash,format=raw,unit=1,file={vm.directory / 'vm1_VARS.fd'}",
    ]
    assert "-machine" not in argv  # plain UEFI runs on the default (i440fx) machine


def test_secure_boot_uses_enrolled_keys_q35_and_smm(tmp_path: Path, fwdir: Path) -> None:
    vm = make_vm(tmp_path, "#@#FIRMWARE = UEFI-SECURE\n")
    argv = argv_of(vm, tmp_path, fwdir)
    assert argv[argv.index("-machine") + 1] == "q35,smm=on"
    assert "driver=cfi.pflash01,property=secure,value=on" in argv
    assert any(a.endswith("file=" + str(fwdir.parent / "ovmf" / "CODE.secboot.fd")) for a in argv)
    assert any(a.endswith("file=" + str(vm.directory / "vm1_VARS_SECURE.fd")) for a in argv)
    boot = uefi_boot(vm, (fwdir,))
    assert boot is not None and boot.vars_template.name == "VARS.ms.fd"


def test_secure_boot_keeps_a_q35_machine_type(tmp_path: Path, fwdir: Path) -> None:
    vm = make_vm(tmp_path, "#@#FIRMWARE = UEFI-SECURE\n", machine="pc-q35-7.2")
    argv = argv_of(vm, tmp_path, fwdir)
    assert argv[argv.index("-machine") + 1] == "pc-q35-7.2,smm=on"


def test_secure_boot_on_i440fx_is_refused(tmp_path: Path, fwdir: Path) -> None:
    vm = make_vm(tmp_path, "#@#FIRMWARE = UEFI-SECURE\n", machine="pc")
    with pytest.raises(VmError, match="needs a q35 machine"):
        uefi_boot(vm, (fwdir,))


def test_no_firmware_installed_is_one_line(tmp_path: Path) -> None:
    vm = make_vm(tmp_path, "#@#FIRMWARE = UEFI\n")
    with pytest.raises(VmError, match=r"no UEFI firmware for x86_64 .*install Debian's ovmf"):
        uefi_boot(vm, (tmp_path / "none",))


def test_varstore_copied_once_private(tmp_path: Path, fwdir: Path) -> None:
    vm = make_vm(tmp_path, "#@#FIRMWARE = UEFI\n")
    boot = uefi_boot(vm, (fwdir,))
    assert boot is not None
    assert not boot.vars_file.exists()
    ensure_varstore(boot)
    assert boot.vars_file.read_bytes() == boot.vars_template.read_bytes()
    assert stat.S_IMODE(boot.vars_file.stat().st_mode) == 0o600
    boot.vars_file.write_bytes(b"guest wrote its boot entries")
    ensure_varstore(boot)  # kept: the guest's variables survive the next boot
    assert boot.vars_file.read_bytes() == b"guest wrote its boot entries"
    assert not list(vm.directory.glob(".*"))


def test_varstore_that_is_no_file_is_one_line(tmp_path: Path, fwdir: Path) -> None:
    vm = make_vm(tmp_path, "#@#FIRMWARE = UEFI\n")
    boot = uefi_boot(vm, (fwdir,))
    assert boot is not None
    boot.vars_file.mkdir()
    with pytest.raises(VmError, match=r"UEFI variable store .*vm1_VARS\.fd is not a file"):
        ensure_varstore(boot)


def test_varstore_in_a_missing_folder_is_one_line(tmp_path: Path, fwdir: Path) -> None:
    vm = make_vm(tmp_path, "#@#FIRMWARE = UEFI\n")
    boot = uefi_boot(vm, (fwdir,))
    assert boot is not None
    vm.directory.rename(tmp_path / "moved")
    with pytest.raises(VmError, match="cannot create the UEFI variable store"):
        ensure_varstore(boot)
