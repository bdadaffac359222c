"""inventory.fields: the original's 47-field record (COMPAT §3), names, aliases, positions."""

from __future__ import annotations

from dataclasses import fields

import pytest

from ctys.errors import UsageError
from ctys.inventory.fields import (
    ALIASES,
    FIELD_TABLE,
    FIELDS,
    FULL_WIDTH,
    MACHINE_FIELDS,
    SHORT_WIDTH,
    canonical_field,
    field_at,
    field_spec,
    is_field_name,
)
from ctys.inventory.record import InventoryRecord

# ctys(1) "Output Record-Format for MACHINE suboption" (1-43) and the 01.11 sources (44-47),
# each position with a name the original accepts for it.
ORIGINAL = [
    "PM", "TYPE", "LABEL", "ID", "UUID", "MAC", "TCP", "DISPLAY", "CPORT", "SPORT",
    "VNCBASE", "DIST", "DISTREL", "OS", "OSREL", "VERNO", "SERNO", "CATEGORY", "VMSTATE",
    "HYPERREL", "STACKCAP", "STACKREQ", "HWCAP", "HWREQ", "EXECLOCATION", "RELOCCAP",
    "SSHPORT", "NETNAME", "HYPERRELRUN", "ACCELERATOR", "EXEPATH", "RESERVED10", "IFNAME",
    "CTYSRELEASE", "NETMASK", "GATEWAY", "RELAY", "ARCH", "PLATFORM", "VRAM", "VCPU",
    "CONTEXTSTRG", "USERSTRING", "UID", "GID", "DEFHOSTS", "DEFCONSOLE",
]  # fmt: skip


def test_the_original_record_has_47_fields_in_its_order() -> None:
    assert FULL_WIDTH == len(MACHINE_FIELDS) == 47
    assert [canonical_field(name) for name in ORIGINAL] == list(MACHINE_FIELDS)
    for position, name in enumerate(ORIGINAL, start=1):
        assert field_spec(name).position == position
        assert field_at(position).name == canonical_field(name)


def test_ctys_own_fields_follow_the_original_ones() -> None:
    assert FIELDS[:FULL_WIDTH] == MACHINE_FIELDS
    own = [spec.name for spec in FIELD_TABLE if not spec.original]
    assert FIELDS[FULL_WIDTH:] == tuple(own) == ("MODE", "SCANNED", "FDBWIDTH")


def test_a_43_field_line_is_the_first_43_fields() -> None:
    assert SHORT_WIDTH == 43
    assert MACHINE_FIELDS[SHORT_WIDTH - 1] == "USERSTRING"
    assert MACHINE_FIELDS[SHORT_WIDTH:] == ("UID", "GID", "DEFHOSTS", "DEFCONSOLE")


def test_the_record_attributes_are_the_table() -> None:
    assert tuple(f.name for f in fields(InventoryRecord)) == tuple(s.attr for s in FIELD_TABLE)
    record = InventoryRecord(*(f"v{i}" for i in range(len(FIELDS))))
    assert record.machine_values() == tuple(f"v{i}" for i in range(FULL_WIDTH))


@pytest.mark.parametrize(
    ("alias", "field"),
    [
        ("H", "HOST"), ("PM", "HOST"), ("TYPE", "STYPE"), ("ST", "STYPE"), ("L", "LABEL"),
        ("ID", "PNAME"), ("IDS", "PNAME"), ("I", "PNAME"), ("P", "PNAME"), ("U", "UUID"),
        ("M", "MAC"), ("T", "TCP"), ("DISP", "DISPLAY"), ("VNCDISPLAY", "DISPLAY"),
        ("CPORT", "VNCPORT"), ("S", "SPORT"), ("SERVERACCESS", "SPORT"), ("O", "OS"),
        ("VER", "VERSION"), ("VERNO", "VERSION"), ("SERIALNUMBER", "SERNO"),
        ("CAT", "CATEGORY"), ("VSTAT", "VMSTATE"), ("HYREL", "HYPERREL"),
        ("SCAP", "STACKCAP"), ("SREQ", "STACKREQ"), ("HRX", "HYPERRELRUN"),
        ("HYRELRUN", "HYPERRELRUN"), ("ACCEL", "ACCELERATOR"), ("EXEP", "EXEPATH"),
        ("IF", "IFNAME"), ("GW", "GATEWAY"), ("PFORM", "PLATFORM"), ("MEMSIZE", "VRAM"),
        ("CSTRG", "CONTEXTSTRG"), ("CONTEXTSTRING", "CONTEXTSTRG"), ("USTRG", "USERSTRING"),
        ("USERID", "UID"), ("GROUPID", "GID"), ("DEFH", "DEFHOSTS"),
        ("DEFAULTHOSTS", "DEFHOSTS"), ("DEFC", "DEFCONSOLE"), ("DEFCON", "DEFCONSOLE"),
        ("DEFAULTCONSOLE", "DEFCONSOLE"), ("l", "LABEL"), (" Mac ", "MAC"),
    ],
)  # fmt: skip
def test_original_names_and_aliases(alias: str, field: str) -> None:
    assert canonical_field(alias) == field
    assert is_field_name(alias.strip())


def test_aliases_are_unambiguous() -> None:
    every = [alias for spec in FIELD_TABLE for alias in spec.aliases]
    assert len(every) == len(set(every)) == len(ALIASES)
    assert not set(ALIASES) & set(FIELDS)


def test_unknown_names_and_positions_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown field 'NOPE'"):
        field_spec("NOPE")
    for position in (0, 48, -1):
        with pytest.raises(UsageError, match=f"no field {position} "):
            field_at(position)
