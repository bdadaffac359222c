"""LIST=ALLVMS: the stopped known VMs, from the inventory or the scan, each once."""

from __future__ import annotations

from pathlib import Path

from ctys.address.vmid import vm_id
from ctys.argscan import parse_action
from ctys.formats.listfields import ALL_SELECTION, in_list_order
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory
from ctys.invocation import OutputFormat
from ctys.plugins.qemu.actions.list import STATE_SHUT_OFF, VmEntry
from ctys.plugins.qemu.actions.listout import list_rows, parse_list_request, target_suboptions
from ctys.plugins.qemu.actions.liststopped import (
    KnownVm,
    known_from_confs,
    known_from_inventory,
    stopped_entries,
    with_stopped,
)
from ctys.plugins.qemu.vmconfig import VmConfig


def _running(label: str, conf: str, uuid: str | None = None, pid: int = 100) -> VmEntry:
    return VmEntry(label, pid, True, "running", uuid=uuid, conf=Path(conf), vmid=f"{label}-x")


def test_a_known_vm_that_does_not_run_is_shut_off() -> None:
    known = [KnownVm("st1", Path("/v/st1/st1.conf"), "U-1", "52:54:00:00:00:01", "10.0.0.9")]
    [entry] = stopped_entries(known, [])
    assert entry.state == STATE_SHUT_OFF and not entry.running
    assert entry.vmid == vm_id("st1", Path("/v/st1/st1.conf"))
    row = entry.row()
    assert row["PID"] is None and row["MAC"] == "52:54:00:00:00:01" and row["STATE"] == "shut off"
    [record] = list_rows([entry], ("PID", "GID", "MAC", "ID"), "h1")
    assert record["PID"] is None and record["GID"] is None and record["ID"] == "/v/st1/st1.conf"


def test_a_running_vm_is_never_listed_as_stopped_too() -> None:
    known = [
        KnownVm("a", Path("/v/a.conf")),
        KnownVm("b-renamed", Path("/v/b.conf"), uuid="U-B"),  # same UUID, other path: runs
        KnownVm("c", Path("/v/c.conf"), uuid="u-c"),
        KnownVm("c", Path("/v/c.conf"), uuid="u-c"),  # twice in the inventory: once
    ]
    running = [_running("a", "/v/a.conf"), _running("b", "/v/elsewhere/b.conf", uuid="u-b")]
    assert [e.label for e in stopped_entries(known, running)] == ["c"]


def test_the_inventory_wins_over_the_scan(tmp_path: Path) -> None:
    path = tmp_path / "inv.sqlite"
    with Inventory.open(path) as inv:
        inv.add(
            [
                InventoryRecord(host="h1", stype="QEMU", label="x", pname="/v/x.conf", mac="m1"),
                InventoryRecord(host="h1", stype="QEMU", label="x", pname="/v/x.conf", tcp="2"),
                InventoryRecord(host="h2", stype="QEMU", label="y", pname="/v/y.conf"),
                InventoryRecord(host="h1", stype="XEN", label="z", pname="/v/z.conf"),
            ]
        )
    assert known_from_inventory(path, "h1") == [KnownVm("x", Path("/v/x.conf"), None, "m1")]
    scanned = [VmConfig(Path("/v/s.conf"), "s"), VmConfig(Path("/v/i.conf"), "i", ignored=True)]
    assert [k.label for k in known_from_confs(scanned)] == ["s"]
    entries = with_stopped([_running("y", "/v/y.conf")], scanned, path, "h1")
    assert [(e.label, e.state) for e in entries] == [("x", "shut off"), ("y", "running")]
    # no inventory records of this host: the scanned confs are the known VMs
    entries = with_stopped([_running("s", "/v/s.conf")], scanned, path, "h3")
    assert [(e.label, e.state) for e in entries] == [("s", "running")]
    assert known_from_inventory(tmp_path / "none.sqlite", "h1") == []


def test_running_rows_come_before_stopped_ones_of_the_same_label() -> None:
    scanned = [VmConfig(Path("/v/web2.conf"), "web"), VmConfig(Path("/v/a.conf"), "a")]
    entries = with_stopped([_running("web", "/v/web1.conf")], scanned, None, "h")
    assert [(e.label, e.state) for e in entries] == [
        ("a", "shut off"),
        ("web", "running"),
        ("web", "shut off"),
    ]


def test_allvms_is_a_list_suboption_sent_to_targets() -> None:
    call = parse_action("LIST=ALLVMS,LABEL,MAC,TERSE")
    request = parse_list_request(call, (), OutputFormat.TABLE)
    assert request.all_vms and request.fields == ("LABEL", "MAC")
    assert [s.key for s in target_suboptions(call)] == ["ALLVMS"]
    assert not parse_list_request(parse_action("LIST=ALL"), (), OutputFormat.TABLE).all_vms
    fields = parse_list_request(parse_action("LIST=ALL"), (), OutputFormat.TABLE).fields
    assert fields == in_list_order(ALL_SELECTION)  # LIST=ALL keeps its issue-13 meaning
