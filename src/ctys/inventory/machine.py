"""Records printed in the original's forms: the field suboptions of ENUMERATE (and what
they select), MACHINE (the whole 47-field record, one ``enum.fdb`` line per record, no
header), the original's TITLE / TITLEIDX / TITLEIDXASC header lines, SORT and TAB_GEN
(through ``ctys.formats.request``, which LIST shares).

A selection of fields prints in record order whatever order it was given in, with the
containing machine (``HOST``) first, as the original's ENUMERATE does. Values go through
the terse escaping of ``ctys.tables`` (``\\`` ``;`` and control characters escaped), so a
record stays one line; a value without those prints as is, as in the original.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TextIO

from ctys.errors import UsageError
from ctys.formats.request import Layout, OutputRequest, RecordShape, write_rows
from ctys.formats.titles import TITLE_SUBOPTIONS, Title
from ctys.inventory.fields import MACHINE_FIELDS, field_spec, in_record_order, is_field_name
from ctys.inventory.record import InventoryRecord

__all__ = [
    "ENUMERATE_SHAPE",
    "MACHINE",
    "TITLE_SUBOPTIONS",
    "Title",
    "is_field_suboption",
    "selected_fields",
    "write_records",
]

MACHINE = "MACHINE"


def _title(name: str) -> tuple[str, int | None]:
    spec = field_spec(name)
    return spec.title, spec.position


def _position(name: str) -> int:
    spec = field_spec(name)
    if spec.position is None:
        raise UsageError(f"TAB_GEN column '{name}' is ctys' own field, not one of the record")
    return spec.position


ENUMERATE_SHAPE = RecordShape(MACHINE_FIELDS, _title, _position)
"""ENUMERATE's record for ``ctys.formats.request``: the 47 fields, their TITLE names."""


def is_field_suboption(key: str, args: Sequence[str]) -> bool:
    """Whether the suboption ``key`` (with ``args``) selects a field: a field's name or
    alias, with no value."""
    return not args and is_field_name(key)


def selected_fields(keys: Iterable[str]) -> tuple[str, ...]:
    """The fields that field suboptions ``keys`` select, in record order, HOST first."""
    return in_record_order(["HOST", *keys])


def write_records(
    records: Sequence[InventoryRecord],
    fields: Sequence[str],
    req: OutputRequest,
    out: TextIO,
    *,
    group: Callable[[Mapping[str, object]], Hashable] | None = None,
) -> None:
    """Print ``records`` (``fields`` of each, or TAB_GEN's columns) as ``req`` asks.
    ``group`` sees a row's ``HOST`` (and, in the plain forms, the printed fields only)."""
    if req.layout is Layout.PLAIN:
        # Only what is printed (and HOST): not a 50-key mapping for each of 10,000 rows.
        names = tuple(dict.fromkeys(("HOST", *fields)))
        # (One attribute more than names: the getter gives a tuple even for one field.)
        values = operator.attrgetter(*(name.lower() for name in names), "host")
        rows: list[Mapping[str, object]] = [
            dict(zip(names, values(r), strict=False)) for r in records
        ]
    else:
        rows = [r.as_row() for r in records]
    write_rows(rows, fields, req, ENUMERATE_SHAPE, out, group=group)
