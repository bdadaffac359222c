"""The inventory's shortcuts give what the general code gives: the stored line of a record
(its plain enum.fdb line, what bare words match) and ``is_empty``."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ctys.inventory.record import FIELDS, MACHINE_FIELDS, InventoryRecord
from ctys.inventory.store import Inventory, _row_params

values = st.lists(
    st.one_of(st.text(max_size=6), st.sampled_from(["", ";", "\\", "#x", "\n", "\r", "a;b"])),
    min_size=len(FIELDS),
    max_size=len(FIELDS),
)


@settings(max_examples=500)
@given(values)
def test_stored_line_is_the_plain_enum_fdb_line(fields: list[str]) -> None:
    record = InventoryRecord(*fields)
    params = _row_params(record)
    assert params[:-1] == record.values()
    assert params[-1] == ";".join(record.machine_values())
    assert params[-1].count(";") >= len(MACHINE_FIELDS) - 1


def test_is_empty(tmp_path: Path) -> None:
    with Inventory.open(tmp_path / "inv.sqlite") as inv:
        assert inv.is_empty()
        inv.add([InventoryRecord(host="h", label="vm1", pname="/vms/vm1.conf")])
        assert not inv.is_empty()
        inv.clear()
        assert inv.is_empty()
