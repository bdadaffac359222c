"""#@#DISKIF / DISKIF<n>, #@#DISKCACHE, #@#DISKDISCARD: how each disk is attached."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctys.conf.parser import parse_conf_text
from ctys.errors import VmError
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec
from ctys.plugins.qemu.boot.instmode import parse_install
from ctys.plugins.qemu.vmconfig import VmConfig
from support.launch import conf_vm, launch_argv, option_values

DISKS = (Path("/v/a.qcow2"), Path("/v/b.img"))


def make_vm(tmp_path: Path, conf: str, disks: tuple[Path, ...] = DISKS) -> VmConfig:
    return conf_vm(tmp_path / "vm1.conf", conf, hdd=disks)


argv_of = launch_argv
values = option_values


def test_without_the_key_disks_stay_ide_as_before(tmp_path: Path) -> None:
    drives = values(argv_of(make_vm(tmp_path, ""), tmp_path), "-drive")
    assert sorted(drives) == [
        "file=/v/a.qcow2,index=0,media=disk,format=qcow2",
        "file=/v/b.img,index=1,media=disk,format=raw",
    ]


def test_virtio_for_all_disks(tmp_path: Path) -> None:
    drives = values(argv_of(make_vm(tmp_path, "#@#DISKIF = virtio\n"), tmp_path), "-drive")
    assert sorted(drives) == [
        "file=/v/a.qcow2,if=virtio,index=0,media=disk,format=qcow2",
        "file=/v/b.img,if=virtio,index=1,media=disk,format=raw",
    ]


def test_per_disk_key_wins_over_the_default(tmp_path: Path) -> None:
    vm = make_vm(tmp_path, "#@#DISKIF = virtio\n#@#DISKIF1 = ide\n")
    drives = sorted(values(argv_of(vm, tmp_path), "-drive"))
    assert drives[0].startswith("file=/v/a.qcow2,if=virtio,")
    assert drives[1].startswith("file=/v/b.img,if=ide,index=1,")


def test_scsi_disks_share_one_virtio_scsi_controller(tmp_path: Path) -> None:
    argv = argv_of(make_vm(tmp_path, "DISKIF=scsi\n"), tmp_path)
    devices = values(argv, "-device")
    assert devices.count("virtio-scsi-pci,id=ctysscsi") == 1
    assert "scsi-hd,drive=ctysdisk0,bus=ctysscsi.0" in devices
    assert "scsi-hd,drive=ctysdisk1,bus=ctysscsi.0" in devices
    drives = values(argv, "-drive")
    assert "file=/v/a.qcow2,if=none,id=ctysdisk0,format=qcow2" in drives
    # The controller comes before the disks that plug into it.
    assert argv.index("virtio-scsi-pci,id=ctysscsi") < argv.index(
        "file=/v/b.img,if=none,id=ctysdisk1,format=raw"
    )


def test_sata_and_nvme(tmp_path: Path) -> None:
    argv = argv_of(make_vm(tmp_path, "#@#DISKIF0 = sata\n#@#DISKIF1 = nvme\n"), tmp_path)
    devices = values(argv, "-device")
    assert "ahci,id=ctysahci" in devices
    assert "ide-hd,drive=ctysdisk0,bus=ctysahci.0" in devices
    assert "nvme,drive=ctysdisk1,serial=ctysdisk1" in devices


def test_cache_and_discard(tmp_path: Path) -> None:
    vm = make_vm(tmp_path, "#@#DISKCACHE = none\n#@#DISKDISCARD = on\n#@#DISKCACHE1 = unsafe\n")
    drives = sorted(values(argv_of(vm, tmp_path), "-drive"))
    assert drives[0].endswith(",format=qcow2,cache=none,discard=unmap")
    assert drives[1].endswith(",format=raw,cache=unsafe,discard=unmap")


def test_cdrom_is_not_touched(tmp_path: Path) -> None:
    vm = make_vm(tmp_path, "#@#DISKIF = virtio\n#@#DISKCACHE = none\n")
    vm = VmConfig(conf_path=vm.conf_path, label="vm1", raw=vm.raw, cdrom=Path("/i.iso"))
    argv = argv_of(vm, tmp_path, boot=BootSpec(BootMode.CD))
    assert values(argv, "-drive") == ["file=/i.iso,index=2,media=cdrom,format=raw"]


def test_instmode_target_gets_the_first_disks_interface(tmp_path: Path) -> None:
    vm = make_vm(tmp_path, "#@#DISKIF = virtio\n", disks=(Path("/v/t.qcow2"),))
    vm = VmConfig(conf_path=vm.conf_path, label="vm1", raw=vm.raw, hdd=vm.hdd, cdrom=Path("/i"))
    install = parse_install(["CD", "", "HDD", "", "INIT"], "I")
    argv = argv_of(vm, tmp_path, install=install)
    assert "file=/v/t.qcow2,if=virtio,index=0,media=disk,format=qcow2" in values(argv, "-drive")


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (
            "#@#DISKIF = floppy\n",
            r"#@#DISKIF: unknown disk interface 'floppy' \(ide, virtio, scsi, sata, nvme\)",
        ),
        ("DISKIF1=usb2\n", r"DISKIF1: unknown disk interface 'usb2'"),
        ("#@#DISKCACHE = fast\n", r"#@#DISKCACHE: unknown cache mode 'fast'"),
        ("#@#DISKDISCARD = maybe\n", r"#@#DISKDISCARD: 'maybe' is not unmap or ignore"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(tmp_path: Path, conf: str, message: str) -> None:
    with pytest.raises(VmError, match=message) as err:
        argv_of(make_vm(tmp_path, conf), tmp_path)
    assert "\n" not in str(err.value)


def test_createconfvm_writes_virtio_disks(tmp_path: Path) -> None:
    from ctys.plugins.qemu.newconf.writer import ConfAnswers, render_conf

    text = render_conf(ConfAnswers("n1", "u", "52:54:00:00:00:01", hdd="n1.qcow2"))
    assert "#@#DISKIF = virtio\n" in text
    raw = parse_conf_text(text, tmp_path / "n1.conf")
    vm = VmConfig(conf_path=tmp_path / "n1.conf", label="n1", raw=raw, hdd=(tmp_path / "d",))
    assert any(",if=virtio," in d for d in values(argv_of(vm, tmp_path), "-drive"))
    diskless = render_conf(ConfAnswers("n2", "u", "52:54:00:00:00:02"))
    assert "DISKIF" not in diskless


def test_at_most_six_sata_disks(tmp_path: Path) -> None:
    from ctys.plugins.qemu.boot.disks import check_disk_options

    vm = make_vm(tmp_path, "#@#DISKIF = sata\n", disks=tuple(Path(f"/d{i}") for i in range(7)))
    check_disk_options(make_vm(tmp_path, "#@#DISKIF = sata\n"), 2)
    with pytest.raises(VmError, match="at most 6 disks with DISKIF sata"):
        check_disk_options(vm, 7)
