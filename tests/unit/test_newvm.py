"""ctys-createConfVM: VM folders with a real qemu-img, atomic, refusing to overwrite."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ctys.errors import CommandError, CtysError, VmError
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.newconf.cli import free_label, run
from ctys.plugins.qemu.newconf.newvm import (
    DiskFormat,
    NewVmRequest,
    check_label,
    create_vm,
    random_mac,
)
from ctys.plugins.qemu.vmconfig import Accelerator

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
MIB = 1024**2


def virtual_size(path: Path) -> tuple[int, str]:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", str(path)], capture_output=True, check=True
    ).stdout
    info = json.loads(out)
    return info["virtual-size"], info["format"]


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def failing_qemu_img(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A qemu-img on PATH that writes half an image and fails, like a full disk would."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "qemu-img"
    # argv: create -q -f FMT -- PATH SIZE
    script.write_text(
        '#!/bin/sh\necho junk >"$6" && touch "${0%/*}/wrote"\necho "boom" >&2\nexit 1\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return bindir


def test_creates_conf_and_qcow2_image(tmp_path: Path) -> None:
    vm = create_vm(NewVmRequest(base=tmp_path, label="vm1", disk_size=64 * MIB))
    assert vm.directory == tmp_path / "vm1"
    assert vm.conf == tmp_path / "vm1" / "vm1.conf"
    assert vm.disk == tmp_path / "vm1" / "vm1.qcow2"
    assert virtual_size(vm.disk) == (64 * MIB, "qcow2")
    conf = load_vm_config(vm.conf)
    assert conf.raw is not None and "MAGICID-QEMU" in conf.raw.magic
    assert conf.label == "vm1"
    assert conf.uuid == vm.uuid and uuid.UUID(vm.uuid).version == 4
    assert conf.mac == vm.mac and re.fullmatch(r"52:54:00(:[0-9a-f]{2}){3}", vm.mac)
    assert conf.hdd == (vm.disk,)
    assert "HDDBOOTIMAGE=vm1.qcow2\n" in vm.conf.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vm1"]  # no temp folder left


def test_raw_format_and_all_answers(tmp_path: Path) -> None:
    iso = tmp_path / "inst.iso"
    iso.write_bytes(b"\0" * 2048)
    vm = create_vm(
        NewVmRequest(
            base=tmp_path / "new" / "base",
            label="web-1.test",
            memsize_mb=1024,
            vcpu=2,
            disk_size=3 * MIB,
            disk_size_text="3M",
            disk_format=DiskFormat.RAW,
            accelerator=Accelerator.TCG,
            iso=iso,
            os="Linux",
            dist="Debian 12",
            mac="52:54:00:AB:CD:EF",
            uuid="5A2B7C1E-93D4-4C0E-9F6A-0B1C2D3E4F50",
            ip="10.0.2.15",
        )
    )
    assert vm.disk is not None and vm.disk.name == "web-1.test.img"
    assert virtual_size(vm.disk) == (3 * MIB, "raw")
    conf = load_vm_config(vm.conf)
    assert (conf.memsize_mb, conf.vcpu, conf.accelerator) == (1024, 2, Accelerator.TCG)
    assert conf.cdrom == iso
    assert (conf.os, conf.dist, conf.ip) == ("Linux", "Debian_12", "10.0.2.15")  # blanks: "_"
    assert conf.mac == "52:54:00:ab:cd:ef"
    assert conf.uuid == "5a2b7c1e-93d4-4c0e-9f6a-0b1c2d3e4f50"
    assert conf.raw is not None and conf.raw.keys["HDDSIZE"] == "3M"


def test_fresh_identity_every_time(tmp_path: Path) -> None:
    a = create_vm(NewVmRequest(base=tmp_path, label="a", disk_size=0))
    b = create_vm(NewVmRequest(base=tmp_path, label="b", disk_size=0))
    assert a.uuid != b.uuid
    assert a.disk is None and "HDDBOOTIMAGE=" not in a.conf.read_text()
    macs = {random_mac() for _ in range(50)}
    assert len(macs) > 45
    for mac in macs:
        first = int(mac[:2], 16)
        assert first & 1 == 0 and first & 2 == 2  # unicast, locally administered


def test_folder_moves_with_its_disk(tmp_path: Path) -> None:
    vm = create_vm(NewVmRequest(base=tmp_path / "one", label="mv", disk_size=MIB))
    moved = tmp_path / "two"
    moved.mkdir()
    vm.directory.rename(moved / "mv")
    assert load_vm_config(moved / "mv" / "mv.conf").hdd == (moved / "mv" / "mv.qcow2",)


def test_existing_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "vm1").mkdir()
    (tmp_path / "vm1" / "keep.txt").write_text("x")
    with pytest.raises(CtysError, match=r"vm1 exists already \(use --force"):
        create_vm(NewVmRequest(base=tmp_path, label="vm1", disk_size=MIB))
    assert [p.name for p in (tmp_path / "vm1").iterdir()] == ["keep.txt"]


def test_force_replaces_conf_and_disk_but_keeps_other_files(tmp_path: Path) -> None:
    old = create_vm(NewVmRequest(base=tmp_path, label="vm1", disk_size=MIB))
    assert old.disk is not None
    (old.directory / "notes.txt").write_text("keep me")
    inode = old.disk.stat().st_ino
    new = create_vm(NewVmRequest(base=tmp_path, label="vm1", disk_size=2 * MIB, force=True))
    assert new.uuid != old.uuid
    assert new.disk == old.disk and new.disk is not None
    assert new.disk.stat().st_ino != inode
    assert virtual_size(new.disk)[0] == 2 * MIB
    assert load_vm_config(new.conf).uuid == new.uuid
    assert (old.directory / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vm1"]


def test_failing_qemu_img_leaves_nothing(tmp_path: Path, failing_qemu_img: Path) -> None:
    base = tmp_path / "vms"
    with pytest.raises(CommandError, match=r"qemu-img failed .*boom"):
        create_vm(NewVmRequest(base=base, label="vm1", disk_size=MIB))
    assert not base.exists()  # not even the base folder it had to make
    assert (failing_qemu_img / "wrote").exists()  # it did leave half an image behind


def test_failing_qemu_img_with_force_keeps_the_old_vm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = create_vm(NewVmRequest(base=tmp_path, label="vm1", disk_size=MIB))
    before = old.conf.read_text()
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(VmError, match="qemu-img not found"):
        create_vm(NewVmRequest(base=tmp_path, label="vm1", disk_size=MIB, force=True))
    assert old.conf.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vm1"]


@pytest.mark.parametrize("label", ["a b", "x/y", "..", ".hidden", "", "ü", "a$b", "a;b"])
def test_bad_labels(label: str) -> None:
    with pytest.raises(CtysError, match="bad label"):
        check_label(label)


def test_initrd_without_kernel_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(CtysError, match="--initrd and --append need --kernel"):
        create_vm(NewVmRequest(base=tmp_path, label="v", append="quiet"))
    with pytest.raises(CtysError, match=r"ISO .*nope\.iso is not an existing file"):
        create_vm(NewVmRequest(base=tmp_path, label="v", iso=tmp_path / "nope.iso"))
    assert list(tmp_path.iterdir()) == []


# -- the command line ------------------------------------------------------------------


def test_cli_prints_conf_path_and_uses_vmpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTYS_VMPATH", f"{tmp_path / 'first'}:{tmp_path / 'second'}")
    code, out, err = cli("--label", "c1", "--disk-size", "16M", "--mem", "1G", "--vcpu", "2")
    assert (code, err) == (0, "")
    conf = tmp_path / "first" / "c1" / "c1.conf"
    assert out == f"{conf}\n"
    vm = load_vm_config(conf)
    assert (vm.memsize_mb, vm.vcpu) == (1024, 2)
    assert virtual_size(tmp_path / "first" / "c1" / "c1.qcow2")[0] == 16 * MIB


def test_cli_json_and_kernel_boot(tmp_path: Path) -> None:
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.gz"
    kernel.write_bytes(b"k")
    initrd.write_bytes(b"i")
    code, out, err = cli(
        "--dir", str(tmp_path / "vms"), "--label", "k1", "--disk-format", "raw",
        "--disk-size", "2M", "--kernel", str(kernel), "--initrd", str(initrd),
        "--append", "console=ttyS0 ctys.x='$(id)'", "--accel", "tcg", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["conf"] == str(tmp_path / "vms" / "k1" / "k1.conf")
    assert data["disk"] == str(tmp_path / "vms" / "k1" / "k1.img")
    vm = load_vm_config(Path(data["conf"]))
    assert (vm.uuid, vm.mac) == (data["uuid"], data["mac"])
    assert (vm.kernel, vm.initrd) == (kernel, initrd)
    assert vm.append == "console=ttyS0 ctys.x='$(id)'"
    assert vm.accelerator is Accelerator.TCG


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "a b"], "bad label"),
        (["--mac", "zz"], "bad MAC"),
        (["--mac", "01:00:5e:00:00:01"], "multicast"),
        (["--uuid", "nope"], "bad UUID"),
        (["--ip", "300.1.1.1"], "bad IP"),
        (["--vcpu", "0"], "CPU count"),
        (["--mem", "lots"], "memory size"),
        (["--disk-size", "8X"], "not a size"),
        (["--disk-format", "qed2"], "qcow2|raw"),
        (["--accel", "xen"], "AUTO|KVM|TCG"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_cli_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = cli("--dir", str(tmp_path), *args)
    assert code == 2
    assert out == ""
    assert err.startswith("ctys-createConfVM: ") and err.count("\n") == 1
    assert message in err
    assert list(tmp_path.iterdir()) == []


def test_cli_existing_vm_exit_1(tmp_path: Path) -> None:
    assert cli("--dir", str(tmp_path), "--label", "v", "--disk-size", "0")[0] == 0
    code, _, err = cli("--dir", str(tmp_path), "--label", "v", "--disk-size", "0")
    assert code == 1
    expected = f"VM folder {tmp_path / 'v'} exists already (use --force to replace its conf/disk)"
    assert err == f"ctys-createConfVM: {expected}\n"


def test_cli_missing_qemu_img_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = cli("--dir", str(tmp_path / "vms"), "--label", "v")
    assert code == 1
    assert "qemu-img not found" in err
    assert not (tmp_path / "vms").exists()


def test_free_label(tmp_path: Path) -> None:
    assert free_label(tmp_path) == "vm1"
    (tmp_path / "vm1").mkdir()
    (tmp_path / "vm2").mkdir()
    assert free_label(tmp_path) == "vm3"


def test_console_script_installed(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).parent / "ctys-createConfVM")
    done = subprocess.run(
        [exe, "--dir", str(tmp_path), "--label", "s", "--disk-size", "1M"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "s" / "s.conf")
