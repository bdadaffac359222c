"""The output suboptions LIST and ENUMERATE share, parsed once (``parse_output``), and the
one writer of their rows in every form (``write_rows``).

- ``TERSE``: ``;``-separated lines; ``MACHINE``: the same, with the action's whole record
  (the action decides its fields); ``JSON`` (also ``-o json``); ``-X`` means TERSE when no
  format is chosen.
- ``TITLE`` / ``TITLEIDX`` / ``TITLEIDXASC``: the header line of the terse forms, with the
  original's names (``formats.titles``); a table always has a header.
- ``SORT[:ALL|EACH|UNIQUE|<n>]`` (``formats.sorting``), ``TAB_GEN:<columns>``
  (``formats.tabgen``), ``TAB_TCP[:<widths>]`` (LIST only, ``formats.tabtcp``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, TextIO

from ctys.errors import UsageError
from ctys.formats.titles import TITLE_SUBOPTIONS, Title, titled
from ctys.invocation import OutputFormat, Suboption
from ctys.tables import TERSE_SEPARATOR, escape_terse, render, text_value

if TYPE_CHECKING:
    # SORT, TAB_GEN and TAB_TCP load where they are asked for: plain output needs none.
    from ctys.formats.sorting import SortSpec
    from ctys.formats.tabtcp import TabTcp

Row = Mapping[str, object]
_FORMATS = {"TERSE": OutputFormat.TERSE, "MACHINE": OutputFormat.TERSE, "JSON": OutputFormat.JSON}
# Keys that take no value.
_FLAGS = frozenset({*_FORMATS, *TITLE_SUBOPTIONS})


class Layout(Enum):
    """Rows as ctys prints them (table, terse, JSON), or one of the original's tables."""

    PLAIN = "PLAIN"
    TAB_GEN = "TAB_GEN"
    TAB_TCP = "TAB_TCP"


OUTPUT_KEYS = frozenset({*_FLAGS, "SORT", Layout.TAB_GEN.value, Layout.TAB_TCP.value})

_GENERATORS = "the original's SPEC/REC/XML generators are not built (JSON has every field)"
_INTERNAL = "an internal suboption of the original's scheduler"
REFUSED = {
    **dict.fromkeys(("SPEC_GEN", "SPEC", "REC_GEN", "REC", "XML_GEN", "XML"), _GENERATORS),
    **dict.fromkeys(("PROLOGUE", "EPILOGUE"), _INTERNAL),
}
"""The original's output suboptions ctys refuses, and why."""
"""Every output suboption's key (a target of a merged LIST/ENUMERATE is sent none)."""


@dataclass(frozen=True)
class OutputRequest:
    """The output choices of one LIST/ENUMERATE: the format, whether MACHINE was given,
    the header style, the sort, the layout and the TAB_* suboption's values."""

    fmt: OutputFormat = OutputFormat.TABLE
    machine: bool = False
    title: Title = Title.NONE
    sort: SortSpec | None = None
    layout: Layout = Layout.PLAIN
    tab_args: tuple[str, ...] = ()

    def terse_unless_chosen(self) -> OutputRequest:
        """The same request as TERSE when no other format was chosen (MAXKEY forces it)."""
        return replace(self, fmt=OutputFormat.TERSE) if self.fmt is OutputFormat.TABLE else self


def parse_output(
    action: str,
    suboptions: Sequence[Suboption],
    output_format: OutputFormat,
    *,
    terse_flag: bool = False,
    tab_tcp: bool = False,
) -> tuple[OutputRequest, list[Suboption]]:
    """The output suboptions of ``action`` (``tab_tcp``: whether it has TAB_TCP) combined
    with ``-o``'s format and ``-X``; the other suboptions returned in order. ``UsageError``
    for a value where none belongs, two formats or layouts, a bad SORT or TAB_* value, and
    the original's suboptions ctys does not build (``REFUSED``)."""
    chosen: str | None = None
    machine = False
    title = Title.NONE
    sort: SortSpec | None = None
    layout = Layout.PLAIN
    tab_args: tuple[str, ...] = ()
    rest: list[Suboption] = []
    for sub in suboptions:
        key = sub.key
        if key in REFUSED:
            raise UsageError(f"{action} suboption '{sub.raw}' is not supported: {REFUSED[key]}")
        if key not in OUTPUT_KEYS or (key == Layout.TAB_TCP.value and not tab_tcp):
            rest.append(sub)
            continue
        if key in _FLAGS and sub.args:
            raise UsageError(f"{action} suboption '{sub.raw}' takes no value")
        if key in TITLE_SUBOPTIONS:
            title = TITLE_SUBOPTIONS[key]
        elif key == "SORT":
            from ctys.formats.sorting import parse_sort

            sort = parse_sort(sub.args)
        elif key in _FORMATS:
            machine = machine or key == "MACHINE"
            if chosen is not None and _FORMATS[chosen] is not _FORMATS[key]:
                raise UsageError(f"{action} suboptions {chosen} and {key} exclude each other")
            chosen = key
        else:
            if layout is not Layout.PLAIN and layout.value != key:
                raise UsageError(f"{action} suboptions {layout.value} and {key} exclude each other")
            layout, tab_args = Layout(key), sub.args
    fmt = output_format
    if chosen is not None:
        wanted = _FORMATS[chosen]
        if output_format not in (OutputFormat.TABLE, wanted):
            raise UsageError(f"{action} suboption {chosen} conflicts with -o {output_format.value}")
        fmt = wanted
    elif terse_flag and fmt is OutputFormat.TABLE:
        fmt = OutputFormat.TERSE
    if layout is not Layout.PLAIN and fmt is OutputFormat.JSON:
        raise UsageError(f"{action} suboption {layout.value} prints a text table, not JSON")
    if layout is Layout.TAB_TCP:
        from ctys.formats.tabtcp import parse_widths

        parse_widths(tab_args)  # fail now, before anything runs
    return OutputRequest(fmt, machine, title, sort, layout, tuple(tab_args)), rest


@dataclass(frozen=True)
class RecordShape:
    """What the writer needs to know of an action's records: the whole record's fields in
    order (TAB_GEN's positions), each field's original title and position (``None``: a
    field of ctys' own), and how TAB_GEN names a field."""

    record: tuple[str, ...]
    title_of: Callable[[str], tuple[str, int | None]]
    position_of: Callable[[str], int]


def write_rows(
    rows: Sequence[Row],
    fields: Sequence[str],
    req: OutputRequest,
    shape: RecordShape,
    out: TextIO,
    *,
    tab_tcp: TabTcp | None = None,
    group: Callable[[Row], Hashable] | None = None,
) -> None:
    """Print ``rows`` as ``req`` asks: ``fields`` of each (plain forms), the TAB_GEN
    columns of the whole record, or TAB_TCP (``tab_tcp``: its columns' content). SORT
    compares the printed cells; ``group`` names a row's target (SORT:EACH)."""
    if req.layout is Layout.TAB_GEN:
        from ctys.formats.tabgen import parse_tab_gen, tab_gen_lines, table_cells

        columns = parse_tab_gen(req.tab_args, shape.position_of, len(shape.record))

        def whole(row: Row) -> list[str]:
            return [text_value(row.get(f)) for f in shape.record]

        ordered = _sorted(rows, lambda r: table_cells(whole(r), columns), req, group)
        _lines(out, tab_gen_lines([whole(r) for r in ordered], columns, req.title))
        return
    if req.layout is Layout.TAB_TCP:
        from ctys.formats.tabtcp import TabTcp, header_lines, parse_widths, row_cells, row_line

        spec = tab_tcp or TabTcp(widths=parse_widths(req.tab_args))
        ordered = _sorted(rows, lambda r: row_cells(r, spec), req, group)
        _lines(out, [*header_lines(spec), *(row_line(r, spec) for r in ordered)])
        return
    ordered = _sorted(rows, lambda r: [text_value(r.get(f)) for f in fields], req, group)
    if req.fmt is OutputFormat.TERSE and req.title is not Title.NONE:
        names = [titled(*shape.title_of(f), req.title) for f in fields]
        out.write(TERSE_SEPARATOR.join(escape_terse(n) for n in names) + "\n")
    render(ordered, fields, req.fmt, out, title=req.fmt is OutputFormat.TABLE)


def _sorted(
    rows: Sequence[Row],
    cells: Callable[[Row], Sequence[str]],
    req: OutputRequest,
    group: Callable[[Row], Hashable] | None,
) -> list[Row]:
    if req.sort is None:
        return list(rows)
    from ctys.formats.sorting import sort_records

    return sort_records(rows, cells, req.sort, group=group)


def _lines(out: TextIO, lines: Sequence[str]) -> None:
    out.writelines(line + "\n" for line in lines)
