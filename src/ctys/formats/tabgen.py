"""TAB_GEN:<column>[%<column>...] of the original's LIST and ENUMERATE: a fixed-width text
table of chosen fields of the whole record (LIST's 22, ENUMERATE's 47).

A column is ``<field>[_<title>[_<width>[_<cut>]]]``: the field's 1-based position in the
record (ctys also takes its name), the header (default: the field as given), the width
(default 10) and how a longer value is cut: nothing (its end is cut off), ``L`` (its start
is cut off: the end of a path stays) or ``B`` (it is broken onto further lines). Cells are
left-aligned and padded to the width, ``|`` between columns; the header line is followed
by a line of ``-`` with ``+`` between columns; TITLEIDX adds a line ``<column>(<field>)``
under the header, as the original's ``tab_gen.awk`` prints them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from ctys.errors import UsageError
from ctys.formats.titles import Title
from ctys.textescape import printable

DEFAULT_WIDTH = 10
_MAX_WRAPPED_LINES = 50  # the original's loop bound for a broken cell


class Cut(Enum):
    """How a value longer than its column is cut."""

    END = ""
    LEFT = "L"
    BREAK = "B"


@dataclass(frozen=True)
class TabColumn:
    """One TAB_GEN column: ``position`` of its field in the record (1-based), its header,
    width and cut; ``field`` is the field as the user wrote it (for the TITLEIDX line)."""

    position: int
    title: str
    width: int = DEFAULT_WIDTH
    cut: Cut = Cut.END
    field: str = ""


def parse_tab_gen(
    args: Sequence[str], position_of: Callable[[str], int], width: int
) -> tuple[TabColumn, ...]:
    """TAB_GEN's ``%``-separated columns; ``position_of`` turns a field name into its
    position; ``width`` is how many fields the record has. ``UsageError`` for a column
    that names no field, a bad width or an unknown cut."""
    if not args:
        raise UsageError("TAB_GEN needs its columns: TAB_GEN:<field>[_<title>[_<width>[_L|B]]]%...")
    return tuple(_column(arg, position_of, width) for arg in args)


def _column(text: str, position_of: Callable[[str], int], record_width: int) -> TabColumn:
    parts = text.split("_")
    if len(parts) > 4 or not parts[0]:
        raise UsageError(f"bad TAB_GEN column '{text}' (<field>[_<title>[_<width>[_L|B]]])")
    field = parts[0]
    position = int(field) if field.isdigit() else position_of(field)
    if not 1 <= position <= record_width:
        raise UsageError(f"TAB_GEN column '{text}': no field {position} (1 to {record_width})")
    title = parts[1] if len(parts) > 1 and parts[1] else field
    width = DEFAULT_WIDTH
    if len(parts) > 2 and parts[2] not in ("", "0"):
        if not parts[2].isdigit() or not 0 < int(parts[2]) <= 999:
            raise UsageError(f"TAB_GEN column '{text}': bad width '{parts[2]}'")
        width = int(parts[2])
    cut_text = parts[3].upper() if len(parts) > 3 else ""
    try:
        cut = Cut(cut_text)
    except ValueError:
        raise UsageError(f"TAB_GEN column '{text}': cut '{parts[3]}' is not L or B") from None
    return TabColumn(position, title, width, cut, field)


def tab_gen_lines(
    records: Sequence[Sequence[str]], columns: Sequence[TabColumn], title: Title
) -> list[str]:
    """The table of ``records`` (each the whole record's cells in order): the header (with
    the index line for TITLEIDX/TITLEIDXASC), the dash line, then each record's lines."""
    lines = [_joined([c.title[: c.width] for c in columns], columns)]
    if title in (Title.TITLEIDX, Title.TITLEIDXASC):
        index = [f"{i}({c.field})"[: c.width] for i, c in enumerate(columns, 1)]
        lines.append(_joined(index, columns))
    lines.append("+".join("-" * c.width for c in columns))
    for record in records:
        lines += record_lines(record, columns)
    return lines


def table_cells(record: Sequence[str], columns: Sequence[TabColumn]) -> list[str]:
    """The first line's cells of ``record`` (what SORT compares)."""
    return [_cut(_value(record, c), c) for c in columns]


def record_lines(record: Sequence[str], columns: Sequence[TabColumn]) -> list[str]:
    """``record``'s table lines: one, or more where a ``B`` column breaks its value."""
    left = [_value(record, c) for c in columns]
    lines: list[str] = []
    while True:
        lines.append(_joined((_cut(v, c) for v, c in zip(left, columns, strict=True)), columns))
        left = [
            v[c.width :] if c.cut is Cut.BREAK and len(v) > c.width else ""
            for v, c in zip(left, columns, strict=True)
        ]
        if not any(left) or len(lines) >= _MAX_WRAPPED_LINES:
            return lines


def _value(record: Sequence[str], column: TabColumn) -> str:
    index = column.position - 1
    return printable(record[index]) if index < len(record) else ""


def _cut(value: str, column: TabColumn) -> str:
    if column.cut is Cut.LEFT and len(value) > column.width:
        return value[-column.width :]
    return value[: column.width]


def _joined(cells: Iterable[str], columns: Sequence[TabColumn]) -> str:
    return "|".join(text.ljust(c.width) for text, c in zip(cells, columns, strict=True))
