"""The QEMU plugin's confs for the core (``ctys.plugins.qemu.confs.reader``): the
``FoundVm`` of a ``VmConfig`` and the inventory record made of it, and the way back."""

from __future__ import annotations

from pathlib import Path

from ctys.conf.parser import read_conf_with_lines
from ctys.conf.rawconf import ConfMode, RawConf
from ctys.inventory.record import InventoryRecord, format_scanned, record_from_found
from ctys.plugins.qemu.confs.reader import QemuConfs, found_of, vm_config_of
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig


def test_qemu_record_maps_every_known_value(tmp_path: Path) -> None:
    conf = tmp_path / "vm1" / "vm1.conf"
    raw = RawConf(
        path=conf,
        variables={"NETMASK": "255.255.255.0"},
        keys={"DISTREL": "12", "OSREL": "6.1", "SSHPORT": "2222", "CATEGORY": "VM"},
        magic=frozenset({"MAGICID-QEMU"}),
    )
    vm = VmConfig(
        conf_path=conf,
        label="vm1",
        uuid="u-1",
        mac="52:54:00:00:00:01",
        ip="10.0.0.5",
        arch="aarch64",
        accelerator=Accelerator.TCG,
        vcpu=2,
        memsize_mb=1024,
        vncport=5905,
        dist="debian",
        os="linux",
        qemu_binary="/usr/bin/qemu-system-aarch64",
        raw=raw,
    )
    record = record_from_found(found_of(vm), "host1", 0.0)
    assert record == InventoryRecord(
        host="host1",
        stype="QEMU",
        label="vm1",
        pname=str(conf),
        uuid="u-1",
        mac="52:54:00:00:00:01",
        tcp="10.0.0.5",
        vncport="5905",
        dist="debian",
        distrel="12",
        os="linux",
        osrel="6.1",
        category="VM",
        sshport="2222",
        netmask="255.255.255.0",
        arch="aarch64",
        vcpu="2",
        memsize="1024",
        accelerator="TCG",
        exepath="/usr/bin/qemu-system-aarch64",
        mode="ctys-conf",
        scanned="1970-01-01T00:00:00Z",
    )


def test_qemu_record_unknowns_are_empty_and_wrapper_is_exepath(tmp_path: Path) -> None:
    conf = tmp_path / "vm2.conf"
    vm = VmConfig(conf_path=conf, label="vm2", mode=ConfMode.SH_CTYS)
    record = record_from_found(found_of(vm), "h", 1_700_000_000.5)
    assert record.uuid == record.mac == record.tcp == record.vncport == ""
    assert record.exepath == str(tmp_path / "vm2.ctys")
    assert record.mode == "sh+ctys"
    assert record.scanned == format_scanned(1_700_000_000.5) == "2023-11-14T22:13:20Z"
    assert all(isinstance(v, str) for v in record.values())


def test_describe_keeps_the_vm_config_for_the_plugin(tmp_path: Path) -> None:
    conf = tmp_path / "web.conf"
    conf.write_text("#@#MAGICID-QEMU\n#@#MAGICID-IGNORE\n#@#LABEL = web\n#@#QEMUBIN = /opt/q\n")
    found = QemuConfs().describe(*read_conf_with_lines(conf))
    assert (found.stype, found.label, found.ignored) == ("QEMU", "web", True)
    assert found.magic == {"MAGICID-QEMU", "MAGICID-IGNORE"}
    assert found.details["exepath"] == "/opt/q"
    vm = vm_config_of(found)
    assert vm is found.native and vm.qemu_binary == "/opt/q"
    # Without the native model (a FoundVm made elsewhere) the conf is mapped again.
    again = vm_config_of(type(found)(stype="QEMU", conf_path=conf, label="web", raw=found.raw))
    assert again == vm
