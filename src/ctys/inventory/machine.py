"""Records printed in the original's forms: the field suboptions of ENUMERATE (and what
they select), MACHINE (the whole 47-field record, one ``enum.fdb`` line per record, no
header) and the original's TITLE / TITLEIDX header lines.

A selection of fields prints in record order whatever order it was given in, with the
containing machine (``HOST``) first, as the original's ENUMERATE does. Values go through
the terse escaping of ``ctys.tables`` (``\\`` ``;`` and control characters escaped), so a
record stays one line; a value without those prints as is, as in the original.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TextIO

from ctys.inventory.fields import in_record_order, is_field_name, title_of
from ctys.inventory.record import InventoryRecord
from ctys.invocation import OutputFormat
from ctys.tables import TERSE_SEPARATOR, render


class Title(Enum):
    """The header line of terse output: none, ctys' field names, the original's TITLE
    names, or those with their positions (TITLEIDX)."""

    NONE = "NONE"
    NAMES = "NAMES"
    TITLE = "TITLE"
    TITLEIDX = "TITLEIDX"


TITLE_SUBOPTIONS = {"TITLE": Title.TITLE, "TITLEIDX": Title.TITLEIDX}
MACHINE = "MACHINE"


@dataclass(frozen=True)
class Selection:
    """What the original-style suboptions of one call chose: ``machine`` (MACHINE given),
    ``fields`` (the field suboptions, record order, HOST first; empty if none) and the
    title style (``Title.NONE`` if no TITLE/TITLEIDX)."""

    machine: bool = False
    fields: tuple[str, ...] = ()
    title: Title = Title.NONE


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
    fmt: OutputFormat,
    out: TextIO,
    *,
    title: Title,
) -> None:
    """Print ``records`` (``fields`` of each) in ``fmt``. Terse output gets the header
    line ``title`` asks for; a table always has ctys' field names as its header."""
    rows = [r.as_row() for r in records]
    if fmt is not OutputFormat.TERSE or title in (Title.NONE, Title.NAMES):
        render(rows, fields, fmt, out, title=title is not Title.NONE)
        return
    indexed = title is Title.TITLEIDX
    out.write(TERSE_SEPARATOR.join(title_of(f, indexed=indexed) for f in fields) + "\n")
    render(rows, fields, fmt, out, title=False)
