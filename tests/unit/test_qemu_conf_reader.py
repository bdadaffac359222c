"""The QEMU plugin's confs for the core (``ctys.plugins.qemu.confs.reader``): the
``FoundVm`` of a ``VmConfig`` and the inventory record made of it, and the way back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctys.address.model import AddressKind, MachineAddress, MachineSelector
from ctys.conf.parser import read_conf_with_lines
from ctys.conf.rawconf import ConfMode, RawConf
from ctys.errors import AddressError
from ctys.inventory.record import InventoryRecord, format_scanned, record_from_found
from ctys.plugins.qemu.confs.reader import QemuConfs, found_of, resolve_vm, vm_config_of
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
        vram="1024",
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


def test_an_ip_only_the_running_guest_reported_resolves_through_the_core(
    ctys_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # IP:addr that no conf names: the core asks QemuConfs.confs_with_learned_ip, which
    # reads the runtime records and the neighbour table (net.guestip).
    from ctys.plugins.qemu.net import guestip
    from ctys.plugins.qemu.vm import runtime as runtime_mod
    from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
    from ctys.plugins.qemu.vm.processes import QemuProcess
    from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord

    mac = "52:54:00:12:34:77"
    conf = Path(ctys_env["CTYS_VMPATH"]) / "lab1" / "lab1.conf"
    conf.parent.mkdir()
    conf.write_text(f"#@#MAGICID-QEMU\n#@#LABEL = lab1\n#@#VDENET = lab\n#@#MAC = {mac}\n")
    vmdir = RuntimeDir().create_vm_dir("lab1")
    vmdir.write_record(RuntimeRecord(vmid="lab1", label="lab1", conf=str(conf), pid=4242))
    qemu = QemuProcess(4242, "me", 0.0, parse_qemu_cmdline(["qemu-system-x86_64"]))
    monkeypatch.setattr(runtime_mod, "living_qemu", lambda pid, rundir, snapshot=None: qemu)
    table = [{"dst": "10.9.0.7", "dev": "tap0", "lladdr": mac, "state": ["REACHABLE"]}]
    monkeypatch.setattr(
        guestip, "read_neighbours", lambda: guestip.parse_neigh_json(json.dumps(table))
    )
    selector = MachineSelector((MachineAddress(AddressKind.IP, "10.9.0.7"),))
    vm = resolve_vm(selector, None)
    assert (vm.label, vm.conf_path) == ("lab1", conf)
    with pytest.raises(AddressError, match=r"no VM matches IP:10\.9\.0\.8"):
        resolve_vm(MachineSelector((MachineAddress(AddressKind.IP, "10.9.0.8"),)), None)
