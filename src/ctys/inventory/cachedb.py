"""ctys' own escaped ASCII cacheDB (``ctys-vhost --export FILE --format ctys``): like the
original's ``enum.fdb`` (``ctys.inventory.enumfdb``) one record a line, fields separated by
``;``, but with a header line naming the columns and with escapes, so that it holds any
value and every field (ctys' own too).

The header ``# ctys cacheDB 2: HOST;STYPE;...`` names the columns (``FIELDS`` in order);
on import the columns are taken by the names of the header, so a file of schema 1 (ctys'
earlier 29 columns; ``MEMSIZE`` is ``VRAM`` now) reads right. Other lines starting with
``#`` are comments and empty lines are skipped.

A field value is escaped so a record stays one line with a fixed column count:
``\\`` → ``\\\\``, ``;`` → ``\\;``, newline → ``\\n``, carriage return → ``\\r``, and a
``#`` that would start the line → ``\\#`` (else the record would read back as a comment).
Every other non-printable character (tab, ESC, C1, bidi controls, ...) is written as its
Python escape (``\\t``, ``\\x1b``, ``\\u202e``): a cacheDB is plain text that is safe to show
on a terminal, and reads back exactly even after ctys' escaping stdout.
Lines end in ``\\n`` only; an older file with fewer columns is padded with ``""``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TextIO

from ctys.errors import CtysError, UsageError
from ctys.inventory.fields import canonical_field
from ctys.inventory.record import FIELDS, InventoryRecord, record_from_values
from ctys.textescape import printable

SEPARATOR = ";"
COMMENT = "#"
MAGIC = f"{COMMENT} ctys cacheDB "
HEADER = f"{MAGIC}2: {SEPARATOR.join(FIELDS)}\n"
_HEADER = re.compile(re.escape(MAGIC) + r"([0-9]+): (.*)")

_ESCAPES = {"\\": "\\", ";": ";", "n": "\n", "r": "\r", "#": "#", "t": "\t"}
# One token of an escaped line: an escape (a char code, or a pair), a separator, or a run
# of plain text.
_TOKEN = re.compile(
    r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|(;)|([^\\;]+)|(\\)$", re.DOTALL
)


def escape_field(value: str) -> str:
    """The cacheDB text of one field value."""
    return printable(value.replace("\\", "\\\\").replace(SEPARATOR, "\\" + SEPARATOR))


def record_line(record: InventoryRecord) -> str:
    """One record as a cacheDB line, without the line end."""
    line = SEPARATOR.join(escape_field(v) for v in record.values())
    if line.startswith(COMMENT):
        line = "\\" + line
    return line


def export_cachedb(records: Iterable[InventoryRecord], out: TextIO) -> int:
    """Write a header comment and one line per record to ``out``; return the record count."""
    out.write(HEADER)
    count = 0
    for record in records:
        out.write(record_line(record) + "\n")
        count += 1
    return count


def is_ctys_cachedb(text: str) -> bool:
    """Whether ``text`` is in ctys' own format (it starts with the header line)."""
    return text.startswith(MAGIC)


def import_cachedb(text: str, source: str) -> list[InventoryRecord]:
    """Parse cacheDB ``text``; ``source`` names it in errors (``source:line: ...``)."""
    records: list[InventoryRecord] = []
    columns: tuple[str, ...] = FIELDS
    # Split on "\n" only: str.splitlines would also split inside fields at \x0b, \u2028 ...
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")  # CRLF files; a real CR in a field is escaped
        header = _HEADER.fullmatch(line) if number == 1 else None
        if header is not None:
            columns = _header_columns(header.group(2), source)
            continue
        if not line or line.startswith(COMMENT):
            continue
        values = parse_line(line, source, number, len(columns))
        if columns is FIELDS:
            records.append(record_from_values(values))
        else:
            named = {c: v for c, v in zip(columns, values, strict=True) if c}
            records.append(InventoryRecord(**named))
    return records


def _header_columns(names: str, source: str) -> tuple[str, ...]:
    """The record attributes the header's column names name."""
    try:
        return tuple(canonical_field(name).lower() for name in names.split(SEPARATOR))
    except UsageError as err:
        raise CtysError(f"{source}:1: header: {err}") from None


def parse_line(line: str, source: str, number: int, width: int = len(FIELDS)) -> tuple[str, ...]:
    """The field values of one non-comment line, padded to ``width``."""
    # Fast path: most lines hold no escapes at all.
    values = _split_escaped(line, source, number) if "\\" in line else line.split(SEPARATOR)
    if len(values) > width:
        raise CtysError(f"{source}:{number}: {len(values)} fields, at most {width} are known")
    return (*values, *([""] * (width - len(values))))


def _split_escaped(line: str, source: str, number: int) -> list[str]:
    values: list[str] = []
    current: list[str] = []
    for match in _TOKEN.finditer(line):
        escaped, separator, plain, dangling = match.groups()
        if separator is not None:
            values.append("".join(current))
            current = []
        elif plain is not None:
            current.append(plain)
        elif dangling is not None:
            raise CtysError(f"{source}:{number}: line ends in a lone backslash")
        elif len(escaped) > 1:  # \xNN, \uNNNN, \UNNNNNNNN
            code = int(escaped[1:], 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise CtysError(f"{source}:{number}: '\\{escaped}' is not a character")
            current.append(chr(code))
        else:
            try:
                current.append(_ESCAPES[escaped])
            except KeyError:
                raise CtysError(
                    f"{source}:{number}: unknown escape '\\{escaped}' "
                    "(known: \\\\ \\; \\n \\r \\t \\# \\xNN \\uNNNN \\UNNNNNNNN)"
                ) from None
    values.append("".join(current))
    return values
