"""``ctys-vhost -o``: which columns, in which form, sorted how (the original's output keys).

``-o`` is a comma list of field names or aliases (any case) and format keys:

- ``TITLE``: a header line; ``TITLEIDX`` / ``TITLEIDXASC``: the header names each column
  with its field number, ``LABEL(3)`` / with a spreadsheet column too, ``LABEL(C-3)``.
- ``MACHINE``: the original's 47 fields, ``;``-separated (``TERSE``: ``;``-separated);
  ``-t`` and ``-j`` without fields carry every field, ctys' own too.
- ``MAXKEY``: PM, TYPE, LABEL, ID, UUID and MAC.
- ``IP``: the TCP field; ``DNS`` (``D``): the address's DNS name as recorded (NETNAME),
  else the address. ``INDEX``: the record's position in the inventory (1-based).
- ``TAB_GEN[:<n>_<title>_<width>[%...]]`` (``TAB``): a table of the given field numbers,
  titles and widths (values cut to the width); without arguments the default table.
- ``SORT[:<arg>[%<arg>...]]``: sort the output lines; ``UNIQUE|U`` drops repeated
  lines, ``REVERSE|R`` reverses, a number sorts by that output column (1-based);
  ``ALL|A|EACH`` are accepted (there is one database).

As in the original, the chosen fields are printed in record order whatever their order in
``-o``. Without ``-o``: the original's default table (label, stype, accel, distro,
distrorel, os, osrel, PM, if, TCP).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from ctys.cli.vhostlean import DEFAULT_TABLE, MAXKEY
from ctys.errors import UsageError
from ctys.formats.titles import Title, titled
from ctys.inventory.query import field_position
from ctys.inventory.record import FIELDS, MACHINE_FIELDS, InventoryRecord, canonical_field
from ctys.invocation import OutputFormat

# Where a record's position (INDEX) is shown: the original's field 32 (RESERVED).
INDEX_POSITION = 32
_UNSUPPORTED = {"REC_GEN", "REC", "SPEC_GEN", "SPEC", "XML_GEN", "XML", "CTYSADDRESS", "CTYS"}

# A column's value from a record and its 1-based position in the inventory.
Getter = Callable[[InventoryRecord, int], str]


@dataclass(frozen=True)
class Column:
    """One output column: ``name`` (JSON key), ``title`` (header) and how to get it."""

    name: str
    title: str
    value: Getter
    width: int | None = None  # TAB_GEN: values are cut to this width


@dataclass(frozen=True)
class Sorting:
    """``SORT``: by which output column (``None``: the whole line), unique, reversed."""

    key: int | None = None
    unique: bool = False
    reverse: bool = False


@dataclass(frozen=True)
class OutputSpec:
    """What ``-o`` (and ``-t``/``-j``/``--title``) asked for."""

    columns: tuple[Column, ...]
    fmt: OutputFormat
    title: bool
    sorting: Sorting | None = None

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The record fields shown: what ``-M SORT|USORT|UNIQUE`` compare."""
        names = tuple(c.name for c in self.columns if c.name in FIELDS)
        return names or FIELDS

    @property
    def needs_index(self) -> bool:
        """Whether a column shows the record's position."""
        return any(c.name == "INDEX" for c in self.columns)


def _field_getter(name: str) -> Getter:
    return lambda record, _index: record.get(name)


def _index_getter(_record: InventoryRecord, index: int) -> str:
    return str(index)


def _dns_getter(record: InventoryRecord, _index: int) -> str:
    return record.netname or record.tcp


def field_column(name: str, title: str | None = None, width: int | None = None) -> Column:
    """The column of field ``name`` (canonical), titled ``title`` (default: the name)."""
    return Column(name, title or name, _field_getter(name), width)


def _index_column(title: str = "INDEX", width: int | None = None) -> Column:
    return Column("INDEX", title, _index_getter, width)


def default_columns() -> tuple[Column, ...]:
    """The original's default table."""
    return tuple(field_column(name, title) for name, title in DEFAULT_TABLE)


def parse_output(spec: str | None, *, terse: bool, json: bool, title: bool) -> OutputSpec:
    """The output ``-o spec`` and the ctys options ``-t``/``-j``/``--title`` ask for."""
    if terse and json:
        raise UsageError("-t and -j exclude each other")
    fmt = OutputFormat.JSON if json else OutputFormat.TERSE if terse else OutputFormat.TABLE
    chosen: set[str] = set()
    tab: tuple[Column, ...] | None = None
    machine = dns = False
    numbering = ""
    sorting: Sorting | None = None
    for word in (spec or "").split(","):
        key, _, args = word.strip().partition(":")
        upper = key.upper()
        if not upper:
            continue
        if upper == "TITLE":
            title = True
        elif upper in ("TITLEIDX", "TITLEIDXASC"):
            title, numbering = True, upper
        elif upper in ("MACHINE", "TERSE"):
            machine = machine or upper == "MACHINE"
            if fmt is OutputFormat.TABLE:
                fmt = OutputFormat.TERSE
        elif upper == "MAXKEY":
            chosen.update(MAXKEY)
        elif upper == "IP":
            chosen.add("TCP")
        elif upper in ("DNS", "D"):
            dns = True
        elif upper == "INDEX":
            chosen.add("INDEX")
        elif upper in ("TAB_GEN", "TAB"):
            tab = _tab_columns(args, word)
        elif upper == "SORT":
            sorting = _sorting(args, word)
        elif upper in _UNSUPPORTED:
            raise UsageError(f"-o {key}: not supported by ctys (use MACHINE, TAB_GEN or -j)")
        else:
            if args:
                raise UsageError(f"-o '{word}': a field takes no ':' argument")
            chosen.add(canonical_field(key))
    # -t and -j (ctys' own) without fields carry the whole record, like MACHINE.
    whole = fmt is not OutputFormat.TABLE and not chosen and not dns
    columns = _columns(chosen, dns, machine, whole, tab)
    if numbering:
        columns = tuple(_numbered(c, numbering == "TITLEIDXASC") for c in columns)
    # A table always has its header; terse only with TITLE / --title.
    return OutputSpec(columns, fmt, title or fmt is OutputFormat.TABLE, sorting)


def _columns(
    chosen: set[str], dns: bool, machine: bool, whole: bool, tab: tuple[Column, ...] | None
) -> tuple[Column, ...]:
    if tab is not None:
        return tab
    if machine:
        return tuple(field_column(name) for name in MACHINE_FIELDS)
    if not chosen and not dns and whole:
        return tuple(field_column(name) for name in FIELDS)
    if not chosen and not dns:
        return default_columns()
    # Record order, as the original ORs the keys into one set of columns.
    ordered = sorted(chosen, key=_order)
    columns = [_index_column() if n == "INDEX" else field_column(n) for n in ordered]
    if dns:
        at = next((i for i, n in enumerate(ordered) if _order(n) > _order("TCP")), len(ordered))
        columns.insert(at, Column("DNS", "DNS", _dns_getter))
    return tuple(columns)


def _order(name: str) -> int:
    if name == "INDEX":
        return INDEX_POSITION
    position = field_position(name)
    # ctys' own fields (no position in the original record) after the original's.
    return position if position is not None else 1000 + FIELDS.index(name)


def _numbered(column: Column, letters: bool) -> Column:
    position = INDEX_POSITION if column.name == "INDEX" else field_position(column.name)
    if position is None:
        return column
    style = Title.TITLEIDXASC if letters else Title.TITLEIDX
    return Column(column.name, titled(column.title, position, style), column.value, column.width)


def _tab_columns(args: str, word: str) -> tuple[Column, ...]:
    """``TAB_GEN:3_label_12%2_stype_5``: field number, title, width (and flags, ignored)."""
    if not args:
        return default_columns()
    columns = []
    for item in args.split("%"):
        if not item:
            continue  # the original's macros join items with '%%'
        parts = item.split("_")
        if len(parts) < 3 or not parts[0].isdigit() or not parts[2].isdigit():
            raise UsageError(f"-o '{word}': use TAB_GEN:<field#>_<title>_<width>[%...]")
        position, column_title, width = int(parts[0]), parts[1], int(parts[2])
        if position == INDEX_POSITION:
            columns.append(_index_column(column_title, width))
            continue
        name = field_at(position)
        if name is None:
            raise UsageError(f"-o '{word}': no field {position}")
        columns.append(field_column(name, column_title, width))
    return tuple(columns)


def field_at(position: int) -> str | None:
    """The name of the field at ``position`` (1-based), ``None`` if there is none."""
    from ctys.inventory.fields import FULL_WIDTH
    from ctys.inventory.fields import field_at as spec_at

    return spec_at(position).name if 1 <= position <= FULL_WIDTH else None


def _sorting(args: str, word: str) -> Sorting:
    key: int | None = None
    unique = reverse = False
    for arg in filter(None, args.split("%")):
        upper = arg.upper()
        if upper in ("ALL", "A", "EACH"):
            continue
        if upper in ("UNIQUE", "U"):
            unique = True
        elif upper in ("REVERSE", "R"):
            reverse = True
        elif arg.isdigit() and int(arg) > 0:
            key = int(arg)
        else:
            raise UsageError(f"-o '{word}': SORT takes ALL, UNIQUE, REVERSE or a column number")
    return Sorting(key, unique, reverse)


def rows_of(
    records: Sequence[InventoryRecord], spec: OutputSpec, positions: Sequence[int]
) -> list[list[str]]:
    """The output values, one list per record (``positions``: each record's index), cut
    to the TAB_GEN widths and sorted as ``SORT`` asked."""
    rows = [
        [_cut(c.value(record, index), c.width) for c in spec.columns]
        for record, index in zip(records, positions, strict=True)
    ]
    sorting = spec.sorting
    if sorting is None:
        return rows
    if sorting.unique:
        rows = [list(t) for t in dict.fromkeys(tuple(r) for r in rows)]
    key = sorting.key
    if key is not None and key > len(spec.columns):
        raise UsageError(f"-o SORT:{key}: there are only {len(spec.columns)} columns")
    if key is None:
        return sorted(rows, reverse=sorting.reverse)
    return sorted(rows, key=lambda r: r[key - 1], reverse=sorting.reverse)


def _cut(value: str, width: int | None) -> str:
    return value if width is None or len(value) <= width else value[:width]


def render_output(rows: Sequence[Sequence[str]], spec: OutputSpec, out: TextIO) -> None:
    """Print ``rows`` in the format of ``spec``."""
    from ctys.tables import render

    json = spec.fmt is OutputFormat.JSON
    keys = [c.name if json else c.title for c in spec.columns]
    keys = _distinct(keys)
    mapped = [dict(zip(keys, row, strict=True)) for row in rows]
    render(mapped, keys, spec.fmt, out, title=spec.title)


def _distinct(keys: list[str]) -> list[str]:
    """Header names made distinct (a TAB_GEN may title two columns alike)."""
    seen: dict[str, int] = {}
    result = []
    for key in keys:
        count = seen.get(key, 0)
        seen[key] = count + 1
        result.append(key if not count else f"{key}_{count + 1}")
    return result
