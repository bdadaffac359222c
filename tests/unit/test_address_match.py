"""One AND rule for every source of VMs: the scan, the inventory and the runtime records of
running VMs (issue 9, points 6 and 7)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctys.address.match import facts_of_found, facts_of_inventory, facts_of_record, select_facts
from ctys.address.model import AddressKind, MachineAddress, MachineSelector
from ctys.address.vmid import vm_id
from ctys.conf.found import FoundVm
from ctys.errors import AddressError
from ctys.inventory.record import record_from_found
from ctys.inventory.settings import this_host
from ctys.inventory.store import Inventory
from ctys.plugins.qemu.confs.reader import resolve_vm, scan_qemu_confs
from ctys.plugins.qemu.vm.runtime import RuntimeRecord

CONF = """\
#@#MAGICID-QEMU
#@#LABEL = {label}
#@#UUID = {uuid}
#@#MAC = {mac}
#@#IP = {ip}
KERNEL=vmlinuz
"""

VMS = {
    "web": ("aaaaaaaa-0000-4000-8000-000000000001", "52:54:00:00:00:01", "10.0.0.1/24"),
    "demo": ("bbbbbbbb-0000-4000-8000-000000000002", "52:54:00:00:00:02", "10.0.0.2"),
    "db": ("cccccccc-0000-4000-8000-000000000003", "52:54:00:00:00:03", "10.0.0.3"),
}


def _tree(root: Path) -> Path:
    for label, (uuid, mac, ip) in VMS.items():
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{label}.conf").write_text(CONF.format(label=label, uuid=uuid, mac=mac, ip=ip))
    return root


def _inventory(path: Path, root: Path) -> Path:
    records = [
        record_from_found(vm, this_host(), time.time()) for vm in scan_qemu_confs([root]).vms
    ]
    with Inventory.open(path) as inv:
        inv.replace_scan(this_host(), [root], records)
    return path


def _record(vm: FoundVm) -> RuntimeRecord:
    vmid = vm_id(vm.label, vm.conf_path)
    return RuntimeRecord(
        vmid=vmid, label=vm.label, conf=str(vm.conf_path), uuid=vm.uuid, mac=vm.mac, ip=vm.ip
    )


def sel(*terms: tuple[AddressKind, str]) -> MachineSelector:
    return MachineSelector(tuple(MachineAddress(k, v) for k, v in terms))


def test_repeated_label_from_inventory_matches_nothing(ctys_env: dict[str, str]) -> None:
    root = _tree(Path(ctys_env["CTYS_VMPATH"]))
    db = _inventory(Path(ctys_env["CTYS_INVENTORY"]), root)
    both = sel((AddressKind.LABEL, "web"), (AddressKind.LABEL, "demo"))
    with pytest.raises(AddressError, match="no VM matches"):
        resolve_vm(both, db, err=io.StringIO())
    with pytest.raises(AddressError, match="no VM matches"):
        resolve_vm(both, None)


def test_repeated_equal_label_from_inventory_matches_it(ctys_env: dict[str, str]) -> None:
    root = _tree(Path(ctys_env["CTYS_VMPATH"]))
    db = _inventory(Path(ctys_env["CTYS_INVENTORY"]), root)
    twice = sel((AddressKind.LABEL, "demo"), (AddressKind.LABEL, "demo"))
    assert resolve_vm(twice, db).label == "demo"


def test_inventory_ip_with_prefix_matches_like_the_scan(ctys_env: dict[str, str]) -> None:
    root = _tree(Path(ctys_env["CTYS_VMPATH"]))
    db = _inventory(Path(ctys_env["CTYS_INVENTORY"]), root)
    err = io.StringIO()
    assert resolve_vm(sel((AddressKind.IP, "10.0.0.1")), db, err=err).label == "web"
    assert err.getvalue() == ""  # found in the inventory, no scan fallback


def test_inventory_miss_falls_back_to_a_scan_and_says_so(ctys_env: dict[str, str]) -> None:
    root = _tree(Path(ctys_env["CTYS_VMPATH"]))
    db = _inventory(Path(ctys_env["CTYS_INVENTORY"]), root)
    new = root / "new"
    new.mkdir()
    (new / "new.conf").write_text(
        CONF.format(
            label="new",
            uuid="00000000-0000-4000-8000-00000000000d",
            mac="52:54:00:00:00:0d",
            ip="10.0.0.13",
        )
    )
    err = io.StringIO()
    assert resolve_vm(sel((AddressKind.LABEL, "new")), db, err=err).label == "new"
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    assert "not in the inventory" in lines[0] and "found by a scan" in lines[0]


def test_inventory_and_scan_miss_is_one_error(ctys_env: dict[str, str]) -> None:
    root = _tree(Path(ctys_env["CTYS_VMPATH"]))
    db = _inventory(Path(ctys_env["CTYS_INVENTORY"]), root)
    with pytest.raises(AddressError, match=r"no VM matches LABEL:gamma .*run ENUMERATE"):
        resolve_vm(sel((AddressKind.LABEL, "gamma")), db, err=io.StringIO())


def test_records_match_label_uuid_mac_conf_and_id(short_tmp: Path) -> None:
    vms = scan_qemu_confs([_tree(short_tmp / "vms")]).vms
    facts = [facts_of_record(_record(vm)) for vm in vms]
    web = next(vm for vm in vms if vm.label == "web")
    for term in [
        (AddressKind.LABEL, "web"),
        (AddressKind.UUID, VMS["web"][0].upper()),
        (AddressKind.MAC, "52-54-00-00-00-01"),
        (AddressKind.IP, "10.0.0.1"),
        (AddressKind.FILENAME, str(web.conf_path)),
        (AddressKind.VMID, vm_id("web", web.conf_path)),
        (AddressKind.ID, str(web.conf_path)),
    ]:
        assert [f.label for f in select_facts(facts, sel(term))] == ["web"], term
    assert select_facts(facts, sel((AddressKind.LABEL, "web"), (AddressKind.LABEL, "db"))) == []


# --- the three sources agree ------------------------------------------------------------

_LABELS = [*VMS, "none"]
_VALUES: dict[AddressKind, list[str]] = {
    AddressKind.LABEL: _LABELS,
    AddressKind.UUID: [u for u, _, _ in VMS.values()] + [VMS["web"][0].upper(), "x-1"],
    AddressKind.MAC: [m for _, m, _ in VMS.values()] + ["52-54-00-00-00-02", "00:00:00:00:00:00"],
    AddressKind.IP: ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9"],
}
_TERM = st.sampled_from(list(_VALUES)).flatmap(
    lambda k: st.sampled_from(_VALUES[k]).map(lambda v: (k, v))
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[RuntimeRecord]]:
    root = _tree(tmp_path_factory.mktemp("vms"))
    db = _inventory(tmp_path_factory.mktemp("inv") / "inv.sqlite", root)
    return root, db, [_record(vm) for vm in scan_qemu_confs([root]).vms]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_TERM, min_size=1, max_size=3))
def test_scan_inventory_and_records_agree(
    sources: tuple[Path, Path, list[RuntimeRecord]], terms: list[tuple[AddressKind, str]]
) -> None:
    root, db, records = sources
    selector = sel(*terms)
    scanned = sorted(
        f.label
        for f in select_facts([facts_of_found(v) for v in scan_qemu_confs([root]).vms], selector)
    )
    with Inventory.open(db) as inv:
        rows = inv.all()
    from_inventory = sorted(
        f.label for f in select_facts([facts_of_inventory(r) for r in rows], selector)
    )
    running = sorted(f.label for f in select_facts([facts_of_record(r) for r in records], selector))
    assert scanned == from_inventory == running
    # And resolution (inventory first) agrees with the scan.
    if len(scanned) == 1:
        assert (
            resolve_vm(MachineSelector(selector.terms, ()), db, err=io.StringIO()).label
            == scanned[0]
        )
