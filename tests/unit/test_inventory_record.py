"""inventory.record: fields, aliases, record_from_found."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from ctys.conf.found import FoundVm
from ctys.conf.rawconf import ConfMode, RawConf
from ctys.errors import UsageError
from ctys.inventory.record import (
    ALIASES,
    FIELDS,
    InventoryRecord,
    canonical_field,
    format_scanned,
    record_from_found,
)


def test_fields_are_the_upper_case_attributes_in_order() -> None:
    assert tuple(f.name.upper() for f in fields(InventoryRecord)) == FIELDS
    assert FIELDS[:4] == ("HOST", "STYPE", "LABEL", "PNAME")
    for required in ("UUID", "MAC", "TCP", "VNCPORT", "ARCH", "ACCELERATOR", "EXEPATH", "MODE"):
        assert required in FIELDS


@pytest.mark.parametrize(
    ("alias", "field"),
    [
        ("L", "LABEL"),
        ("l", "LABEL"),
        ("U", "UUID"),
        ("M", "MAC"),
        ("T", "TCP"),
        ("P", "PNAME"),
        ("H", "HOST"),
        ("PM", "HOST"),
        ("CPORT", "VNCPORT"),
        ("ACCEL", "ACCELERATOR"),
        ("ST", "STYPE"),
        ("TYPE", "STYPE"),
        ("label", "LABEL"),
        (" Mac ", "MAC"),
    ],
)
def test_aliases_resolve(alias: str, field: str) -> None:
    assert canonical_field(alias) == field


def test_every_alias_points_at_a_field() -> None:
    assert set(ALIASES.values()) <= set(FIELDS)
    assert not set(ALIASES) & set(FIELDS)


def test_unknown_field_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match="unknown field 'NOPE'"):
        canonical_field("NOPE")


def test_get_values_and_row() -> None:
    record = InventoryRecord(host="h", label="vm1", uuid="ABC", vncport="5901")
    assert record.get("L") == "vm1"
    assert record.get("CPORT") == "5901"
    assert record.values()[FIELDS.index("LABEL")] == "vm1"
    assert record.as_row()["UUID"] == "ABC"
    assert list(record.as_row()) == list(FIELDS)


def test_vm_id_is_uuid_case_folded_else_pname() -> None:
    a = InventoryRecord(host="h1", pname="/a/x.conf", uuid="ABC")
    b = InventoryRecord(host="h2", pname="/mnt/a/x.conf", uuid="abc")
    assert a.vm_id == b.vm_id == "abc"
    assert InventoryRecord(pname="/a/x.conf").vm_id == "/a/x.conf"


def test_record_from_found_keeps_the_plugins_facts_and_the_conf_keys(tmp_path: Path) -> None:
    conf = tmp_path / "vm1" / "vm1.conf"
    raw = RawConf(
        path=conf,
        variables={"NETMASK": "255.255.255.0"},
        keys={"DISTREL": "12", "SSHPORT": "2222"},
        magic=frozenset({"MAGICID-XEN"}),
    )
    found = FoundVm(
        stype="XEN",
        conf_path=conf,
        label="vm1",
        uuid="u-1",
        mac="52:54:00:00:00:01",
        ip="10.0.0.5",
        details={"exepath": "/usr/sbin/xl", "arch": "x86_64", "sshport": "22"},
        raw=raw,
    )
    assert record_from_found(found, "host1", 0.0) == InventoryRecord(
        host="host1",
        stype="XEN",
        label="vm1",
        pname=str(conf),
        uuid="u-1",
        mac="52:54:00:00:00:01",
        tcp="10.0.0.5",
        distrel="12",
        sshport="22",  # the plugin's value wins over the conf key
        netmask="255.255.255.0",
        arch="x86_64",
        exepath="/usr/sbin/xl",
        mode="ctys-conf",
        scanned="1970-01-01T00:00:00Z",
    )


def test_record_from_found_unknowns_are_empty_and_wrapper_is_exepath(tmp_path: Path) -> None:
    conf = tmp_path / "vm2.conf"
    found = FoundVm(
        stype="XEN", conf_path=conf, label="vm2", mode=ConfMode.SH_CTYS, details={"exepath": "x"}
    )
    record = record_from_found(found, "h", 1_700_000_000.5)
    assert record.uuid == record.mac == record.tcp == record.vncport == record.arch == ""
    assert record.exepath == str(tmp_path / "vm2.ctys")
    assert record.mode == "sh+ctys"
    assert record.scanned == format_scanned(1_700_000_000.5) == "2023-11-14T22:13:20Z"
    assert all(isinstance(v, str) for v in record.values())


@pytest.mark.parametrize("name", ["label", "stype", "scanned", "nosuch"])
def test_a_plugin_cannot_describe_the_cores_own_fields(tmp_path: Path, name: str) -> None:
    found = FoundVm(stype="XEN", conf_path=tmp_path / "a.conf", label="a", details={name: "x"})
    with pytest.raises(ValueError, match=f"XEN describes an unknown inventory field '{name}'"):
        record_from_found(found, "h", 0.0)
