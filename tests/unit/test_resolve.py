"""Machine addresses resolved by scanning and from the inventory (multipath rows)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ctys.address.model import (
    AddressKind,
    MachineAddress,
    MachineSelector,
    address_from_suboption,
)
from ctys.address.vmid import vm_id
from ctys.errors import AddressError, UsageError
from ctys.inventory.record import record_from_found
from ctys.inventory.settings import this_host
from ctys.inventory.store import Inventory
from ctys.invocation import Suboption
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.confs.reader import resolve_vm, scan_qemu_confs

CONF = """\
#@#MAGICID-QEMU
#@#LABEL = {label}
#@#UUID = {uuid}
#@#MAC = {mac}
#@#IP = {ip}
KERNEL=vmlinuz
"""

VMS = {
    "alpha": ("aaaaaaaa-0000-4000-8000-000000000001", "52:54:00:00:00:01", "10.0.0.1"),
    "beta": ("bbbbbbbb-0000-4000-8000-000000000002", "52:54:00:00:00:02", "10.0.0.2"),
}


@pytest.fixture
def tree(ctys_env: dict[str, str]) -> Path:
    root = Path(ctys_env["CTYS_VMPATH"])
    for label, (uuid, mac, ip) in VMS.items():
        folder = root / "group" / label
        folder.mkdir(parents=True)
        (folder / f"{label}.conf").write_text(CONF.format(label=label, uuid=uuid, mac=mac, ip=ip))
    # A disabled variant of alpha: same UUID, must never be chosen.
    variant = root / "old" / "alpha"
    variant.mkdir(parents=True)
    (variant / "alpha.conf").write_text(
        CONF.format(label="alpha", uuid=VMS["alpha"][0], mac="52:54:00:00:00:0a", ip="x")
        + "#@#MAGICID-IGNORE\n"
    )
    # Not a VM: a .conf without the magic id.
    (root / "group" / "notes.conf").write_text("LABEL=alpha\n")
    return root


def sel(kind: AddressKind, value: str, *bases: Path) -> MachineSelector:
    return MachineSelector((MachineAddress(kind, value),), tuple(bases))


def inventory_of(path: Path, root: Path, host: str | None = None) -> Path:
    records = [
        record_from_found(vm, host or this_host(), time.time())
        for vm in scan_qemu_confs([root]).vms
    ]
    with Inventory.open(path) as inv:
        inv.replace_scan(host or this_host(), [root], records)
    return path


ADDRESSES = [
    (AddressKind.LABEL, "beta"),
    (AddressKind.UUID, VMS["beta"][0].upper()),
    (AddressKind.MAC, "52-54-00-00-00-02"),
    (AddressKind.IP, "10.0.0.2"),
]


@pytest.mark.parametrize(("kind", "value"), ADDRESSES)
def test_each_address_key_by_scan(tree: Path, kind: AddressKind, value: str) -> None:
    assert resolve_vm(sel(kind, value)).label == "beta"


@pytest.mark.parametrize(("kind", "value"), ADDRESSES)
def test_each_address_key_from_inventory(
    tree: Path, short_tmp: Path, kind: AddressKind, value: str
) -> None:
    db = inventory_of(short_tmp / "inv.sqlite", tree)
    assert resolve_vm(sel(kind, value), db).label == "beta"


def test_filename_and_basepath_and_id(tree: Path, short_tmp: Path) -> None:
    conf = tree / "group" / "alpha" / "alpha.conf"
    assert resolve_vm(sel(AddressKind.FILENAME, str(conf))).conf_path == conf
    # BASEPATH limits the scan: beta is not under alpha's folder.
    with pytest.raises(AddressError, match="no VM matches LABEL:beta under"):
        resolve_vm(sel(AddressKind.LABEL, "beta", tree / "group" / "alpha"))
    assert resolve_vm(sel(AddressKind.LABEL, "alpha", tree / "group")).label == "alpha"
    assert resolve_vm(sel(AddressKind.ID, str(conf))).conf_path == conf


def test_ignored_variant_is_never_the_master(tree: Path) -> None:
    assert resolve_vm(sel(AddressKind.LABEL, "alpha")).conf_path.parent.name == "alpha"
    assert "old" not in str(resolve_vm(sel(AddressKind.LABEL, "alpha")).conf_path)


def test_two_terms_are_anded(tree: Path) -> None:
    both = MachineSelector(
        (
            MachineAddress(AddressKind.LABEL, "alpha"),
            MachineAddress(AddressKind.IP, "10.0.0.2"),
        )
    )
    with pytest.raises(AddressError, match="no VM matches"):
        resolve_vm(both)


def test_multipath_rows_are_one_vm(tree: Path, short_tmp: Path) -> None:
    db = short_tmp / "inv.sqlite"
    inventory_of(db, tree)
    inventory_of(db, tree, host="other-host")  # the same folder seen from a second host
    with Inventory.open(db) as inv:
        rows = inv.find(label="beta")
    assert sorted(r.host for r in rows) == sorted([this_host(), "other-host"])
    assert resolve_vm(sel(AddressKind.LABEL, "beta"), db).label == "beta"


def test_ambiguous_in_inventory_lists_candidates(tree: Path, short_tmp: Path) -> None:
    twin = tree / "twin" / "beta"
    twin.mkdir(parents=True)
    (twin / "beta.conf").write_text(
        CONF.format(
            label="beta",
            uuid="cccccccc-0000-4000-8000-000000000003",
            mac="52:54:00:00:00:0c",
            ip="i",
        )
    )
    db = inventory_of(short_tmp / "inv.sqlite", tree)
    with pytest.raises(AddressError) as err:
        resolve_vm(sel(AddressKind.LABEL, "beta"), db)
    assert "ambiguous, 2 VMs match" in str(err.value)
    assert str(twin / "beta.conf") in str(err.value)


def test_inventory_miss_is_explained(tree: Path, short_tmp: Path) -> None:
    db = inventory_of(short_tmp / "inv.sqlite", tree)
    with pytest.raises(AddressError, match=r"in the inventory .*run ENUMERATE"):
        resolve_vm(sel(AddressKind.LABEL, "gamma"), db)


def test_stale_inventory_row_is_explained(tree: Path, short_tmp: Path) -> None:
    db = inventory_of(short_tmp / "inv.sqlite", tree)
    (tree / "group" / "beta" / "beta.conf").unlink()
    with pytest.raises(AddressError, match="that file is gone"):
        resolve_vm(sel(AddressKind.LABEL, "beta"), db)


def test_empty_or_missing_inventory_falls_back_to_scan(tree: Path, short_tmp: Path) -> None:
    assert resolve_vm(sel(AddressKind.LABEL, "beta"), short_tmp / "none.sqlite").label == "beta"
    with Inventory.open(short_tmp / "empty.sqlite"):
        pass
    assert resolve_vm(sel(AddressKind.LABEL, "beta"), short_tmp / "empty.sqlite").label == "beta"


def test_duplicate_active_uuid_is_reported(tree: Path) -> None:
    dup = tree / "dup" / "alpha2"
    dup.mkdir(parents=True)
    (dup / "alpha2.conf").write_text(
        CONF.format(label="alpha2", uuid=VMS["alpha"][0], mac="52:54:00:00:00:0d", ip="i")
    )
    result = scan_qemu_confs([tree])
    assert any("already active" in e and "MAGICID-IGNORE" in e for e in result.errors)
    # Exactly one active master per UUID: the first in scan order (dup/ before group/).
    assert sorted(vm.label for vm in result.vms) == ["alpha2", "beta"]


def test_load_vm_config_path_matches_scan(tree: Path) -> None:
    conf = tree / "group" / "beta" / "beta.conf"
    [scanned] = [vm for vm in scan_qemu_confs([tree]).vms if vm.label == "beta"]
    assert scanned.conf_path == load_vm_config(conf).conf_path


# --- the original's address keys (COMPAT §5) --------------------------------------------


def terms(*pairs: tuple[AddressKind, str]) -> MachineSelector:
    return MachineSelector(tuple(MachineAddress(k, v) for k, v in pairs))


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("U", AddressKind.UUID),
        ("M", AddressKind.MAC),
        ("T", AddressKind.IP),
        ("P", AddressKind.PATHNAME),
        ("PATHNAME", AddressKind.PATHNAME),
        ("FNAME", AddressKind.FILENAME),
        ("I", AddressKind.ID),
        ("DR", AddressKind.DBRECORD),
        ("VMID", AddressKind.VMID),
    ],
)
def test_short_forms(key: str, kind: AddressKind) -> None:
    term = address_from_suboption(Suboption(key, ("3",), f"{key}:3"))
    assert term is not None and term.kind is kind


def test_dbrecord_must_be_an_index() -> None:
    with pytest.raises(UsageError, match="record index from 1"):
        address_from_suboption(Suboption("DBRECORD", ("x",), "DBRECORD:x"))


def test_short_forms_resolve(tree: Path) -> None:
    uuid, mac, ip = VMS["beta"]
    for kind, value in [(AddressKind.UUID, uuid), (AddressKind.MAC, mac), (AddressKind.IP, ip)]:
        assert resolve_vm(sel(kind, value)).label == "beta"


def test_f_is_a_pattern_on_the_full_path(tree: Path, short_tmp: Path) -> None:
    # By scan: a part of the path (the folder and file share the name, as the original
    # says a user may drop the repeated tail).
    assert resolve_vm(sel(AddressKind.FILENAME, "group/beta")).label == "beta"
    assert resolve_vm(sel(AddressKind.FILENAME, "beta.conf")).label == "beta"
    with pytest.raises(AddressError, match="ambiguous"):
        resolve_vm(sel(AddressKind.FILENAME, "/group/"))
    # An exact path still works, and so does a pattern through the inventory.
    conf = tree / "group" / "alpha" / "alpha.conf"
    assert resolve_vm(sel(AddressKind.FILENAME, str(conf))).conf_path == conf
    db = inventory_of(short_tmp / "inv.sqlite", tree)
    assert resolve_vm(sel(AddressKind.FILENAME, "a/alpha.c"), db).conf_path == conf


def test_p_and_id_are_the_conf_path(tree: Path) -> None:
    conf = tree / "group" / "beta" / "beta.conf"
    for kind in (AddressKind.PATHNAME, AddressKind.ID):
        assert resolve_vm(sel(kind, str(conf))).conf_path == conf
        with pytest.raises(AddressError, match="no conf file at"):
            resolve_vm(sel(kind, str(tree / "nope.conf")))
    # ID is no longer the runtime id: that is VMID.
    with pytest.raises(AddressError):
        resolve_vm(sel(AddressKind.ID, vm_id("beta", conf)))


def test_dbrecord_is_the_inventory_record_at_that_position(tree: Path, short_tmp: Path) -> None:
    db = inventory_of(short_tmp / "inv.sqlite", tree)
    first = resolve_vm(sel(AddressKind.DBRECORD, "1"), db)
    second = resolve_vm(sel(AddressKind.DBRECORD, "2"), db)
    assert {first.label, second.label} == {"alpha", "beta"}
    both = terms((AddressKind.DBRECORD, "2"), (AddressKind.LABEL, second.label))
    assert resolve_vm(both, db).label == second.label
    wrong = terms((AddressKind.DBRECORD, "2"), (AddressKind.LABEL, first.label))
    with pytest.raises(AddressError, match="no inventory record matches"):
        resolve_vm(wrong, db)
    with pytest.raises(AddressError, match="no inventory record matches DBRECORD:9"):
        resolve_vm(sel(AddressKind.DBRECORD, "9"), db)
    with pytest.raises(AddressError, match="DBRECORD needs the inventory"):
        resolve_vm(sel(AddressKind.DBRECORD, "1"), short_tmp / "none.sqlite")


def test_the_conf_found_must_agree_with_the_address(tree: Path, short_tmp: Path) -> None:
    db = inventory_of(short_tmp / "inv.sqlite", tree)
    conf = tree / "group" / "beta" / "beta.conf"
    uuid, mac, ip = VMS["beta"]
    # Edited since the ENUMERATE: the inventory still says LABEL beta.
    conf.write_text(CONF.format(label="gamma", uuid=uuid, mac=mac, ip=ip))
    with pytest.raises(AddressError, match=r"does not agree with LABEL:beta .*label 'gamma'"):
        resolve_vm(sel(AddressKind.LABEL, "beta"), db)
    position = 1 if resolve_vm(sel(AddressKind.DBRECORD, "1"), db).conf_path == conf else 2
    with pytest.raises(AddressError, match=r"inventory record .* does not agree"):
        resolve_vm(terms((AddressKind.DBRECORD, str(position)), (AddressKind.LABEL, "beta")), db)
    # By UUID, nothing contradicts: the conf is found under its new label.
    assert resolve_vm(sel(AddressKind.UUID, uuid), db).label == "gamma"
