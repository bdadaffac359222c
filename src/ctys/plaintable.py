"""Table and terse cells as plain text, for the output paths that must start fast: the
lines rich draws for a table off a terminal, and the escaping of a terse cell.

Core utility beside ``ctys.tables`` (which renders through it) and the lean
``ctys-vhost`` query (``ctys.cli.vhostlean``); imports only ``textescape``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ctys.textescape import printable

TERSE_SEPARATOR = ";"
# Wide enough that a table written to a pipe or file is never wrapped.
UNWRAPPED_WIDTH = 10_000


def text_value(value: object) -> str:
    """A value as a table/terse cell: ``None`` empty, booleans ``yes``/``no``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def escape_terse(text: str) -> str:
    """Escape a terse cell so one record stays one line with a fixed number of ``;``:
    ``\\`` → ``\\\\``, ``;`` → ``\\;``, then newline → ``\\n`` and every other control
    character as its escape (``\\x1b``, see ``ctys.textescape``)."""
    return printable(text.replace("\\", "\\\\").replace(TERSE_SEPARATOR, "\\" + TERSE_SEPARATOR))


def plain_table(
    cells: Sequence[Sequence[str]], fields: Sequence[str], *, title: bool
) -> list[str] | None:
    """The lines rich draws off a terminal (columns two spaces apart, padded to their widest
    cell, line ends stripped), without importing rich (~20 ms of start-up). ``None`` when a
    cell is not printable ASCII (its width on screen needs rich's cell widths) or the table
    is wider than ``UNWRAPPED_WIDTH`` (rich would shrink it)."""
    table = [list(fields), *cells] if title else [list(r) for r in cells]
    if (
        not fields
        or not table
        or not all(c.isascii() and c.isprintable() for r in table for c in r)
    ):
        return None
    widths = [max(len(r[i]) for r in table) for i in range(len(fields))]
    if sum(widths) + 2 * (len(widths) - 1) > UNWRAPPED_WIDTH:
        return None
    return [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in table
    ]
