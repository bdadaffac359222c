"""Print result rows (LIST, ENUMERATE, INFO) as a table, terse ``;``-lines or JSON.

Rows are plain mappings from field name to value; the caller picks the fields and their
order. ``rich`` is imported only when a table is drawn: CLI start-up time matters and the
machine formats never need it.

Core utility: the plugins' actions and ``ctys-vhost`` print through it. Imports
``errors``, ``invocation``, ``plaintable``, ``safestream`` and ``textescape`` only.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TextIO

from ctys.errors import UsageError
from ctys.invocation import OutputFormat, Suboption
from ctys.jsonrows import rows_json
from ctys.plaintable import (
    TERSE_SEPARATOR,
    UNWRAPPED_WIDTH,
    escape_terse,
    plain_table,
    text_value,
)
from ctys.safestream import raw_stream, write_text
from ctys.textescape import printable

__all__ = [
    "FORMAT_SUBOPTIONS",
    "TERSE_SEPARATOR",
    "escape_terse",
    "render",
    "split_format_suboptions",
    "text_value",
]


# Output suboptions shared by LIST, ENUMERATE and INFO: TERSE (';'-lines), MACHINE (the
# same with a header line), JSON; TITLE adds the header to TERSE.
FORMAT_SUBOPTIONS = {
    "TERSE": OutputFormat.TERSE,
    "MACHINE": OutputFormat.TERSE,
    "JSON": OutputFormat.JSON,
}


def split_format_suboptions(
    action: str, suboptions: Sequence[Suboption], output_format: OutputFormat
) -> tuple[OutputFormat, bool, list[Suboption]]:
    """Take the output suboptions out of an action's suboptions: the format (combined with
    the generic ``-o`` format), whether to print a header line, and the other suboptions."""
    chosen: str | None = None
    title = False
    rest: list[Suboption] = []
    for sub in suboptions:
        if sub.key not in FORMAT_SUBOPTIONS and sub.key != "TITLE":
            rest.append(sub)
            continue
        if sub.args:
            raise UsageError(f"{action} suboption '{sub.raw}' takes no value")
        if sub.key == "TITLE":
            title = True
        elif chosen is not None and chosen != sub.key:
            raise UsageError(f"{action} suboptions {chosen} and {sub.key} exclude each other")
        else:
            chosen = sub.key
    fmt = output_format
    if chosen is not None:
        wanted = FORMAT_SUBOPTIONS[chosen]
        if output_format not in (OutputFormat.TABLE, wanted):
            raise UsageError(f"{action} suboption {chosen} conflicts with -o {output_format.value}")
        fmt = wanted
    # MACHINE is TERSE with its header line; a table always has one.
    title = title or chosen == "MACHINE" or fmt is OutputFormat.TABLE
    return fmt, title, rest


def render(
    rows: Sequence[Mapping[str, object]],
    fields: Sequence[str],
    fmt: OutputFormat,
    out: TextIO,
    *,
    title: bool = True,
) -> None:
    """Write ``rows`` (only ``fields``, in that order) to ``out`` in ``fmt``.

    ``title``: header line for TABLE and TERSE; JSON always carries the field names.
    A field missing from a row prints empty (``null`` in JSON).
    """
    if fmt is OutputFormat.JSON:
        _render_json(rows, fields, out)
    elif fmt is OutputFormat.TERSE:
        _render_terse(rows, fields, out, title=title)
    else:
        _render_table(rows, fields, out, title=title)


def _render_json(rows: Sequence[Mapping[str, object]], fields: Sequence[str], out: TextIO) -> None:
    write_text(out, rows_json(rows, fields))


def _render_terse(
    rows: Sequence[Mapping[str, object]], fields: Sequence[str], out: TextIO, *, title: bool
) -> None:
    lines = [TERSE_SEPARATOR.join(escape_terse(f) for f in fields)] if title else []
    separators = len(fields) - 1
    for row in rows:
        values = [v if v.__class__ is str else text_value(v) for v in map(row.get, fields)]
        line = TERSE_SEPARATOR.join(values)
        # The usual line needs no escaping: no cell holds a separator, a backslash or
        # anything unprintable (three scans in C instead of escaping each cell).
        if line.count(TERSE_SEPARATOR) != separators or "\\" in line or not line.isprintable():
            line = TERSE_SEPARATOR.join(escape_terse(v) for v in values)
        lines.append(line)
    if lines:
        # Every cell is escaped: the text goes under a SafeWriter in one write, not a
        # write (and a check) for each of thousands of lines.
        raw_stream(out).write("\n".join(lines) + "\n")


def _render_table(
    rows: Sequence[Mapping[str, object]], fields: Sequence[str], out: TextIO, *, title: bool
) -> None:
    is_tty = out.isatty()
    if not is_tty:
        cells = [[printable(text_value(row.get(f))) for f in fields] for row in rows]
        plain = plain_table(cells, fields, title=title)
        if plain is not None:
            out.writelines(plain)
            return
    from rich.console import Console  # lazily: see module docstring
    from rich.table import Table
    from rich.text import Text

    # Off a terminal: draw into a buffer, then drop rich's cell padding at line ends. On one,
    # rich writes its header style itself (under the escaping writer); cells are escaped.
    buffer = io.StringIO()
    console = Console(
        file=raw_stream(out) if is_tty else buffer,
        width=None if is_tty else UNWRAPPED_WIDTH,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=not is_tty,
    )
    table = Table(show_header=title, box=None, pad_edge=False, header_style="bold")
    for name in fields:
        table.add_column(name, no_wrap=not is_tty, overflow="fold")
    for row in rows:
        # Text cells: values such as "[x]" are data, never rich markup; control characters
        # and line breaks shown escaped.
        table.add_row(*(Text(printable(text_value(row.get(f)))) for f in fields))
    console.print(table)
    if not is_tty:
        out.writelines(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
