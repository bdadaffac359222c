"""The original's cacheDB file ``enum.fdb``: one record a line, the 47 fields of
``ctys.inventory.fields`` (43 for a line of release 01.10) separated by a plain ``;``, no
header, no escapes, lines ending in ``\\n``.

Import then export of an original file gives it back byte for byte: a 43-field line is
remembered as one (``FDBWIDTH``) and written with 43 fields again. Since nothing is
escaped, a value holding ``;`` or a line break cannot be written: export refuses it with
``file:line`` (ctys' own escaped format, ``ctys.inventory.cachedb``, holds any value).
On import, empty lines and lines starting with ``#`` are skipped, a ``\\r`` before the
line end (a CRLF file) is dropped, and a line of any other width than 43 or 47 is an
error with ``file:line``. Two lines of one VM address (same HOST, ID, MAC and TCP) are one
record: the later one wins and a warning names both lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TextIO

from ctys.errors import CtysError
from ctys.inventory.fields import FIELDS, FULL_WIDTH, MACHINE_FIELDS, SHORT_WIDTH, WIDTHS
from ctys.inventory.record import InventoryRecord, record_from_values

SEPARATOR = ";"
FILE_NAME = "enum.fdb"
_SHORT = str(SHORT_WIDTH)
_OWN_PADDING = ("",) * (len(FIELDS) - FULL_WIDTH)
_FORBIDDEN = {";": "';'", "\n": "a newline", "\r": "a carriage return"}


@dataclass(frozen=True)
class FdbContent:
    """What an ``enum.fdb`` held: its records (file order, one per VM address) and the
    warnings about lines that repeated an address (``source:line: ...``)."""

    records: tuple[InventoryRecord, ...]
    warnings: tuple[str, ...] = ()


def parse_enum_fdb(data: bytes, source: str) -> FdbContent:
    """The records of ``enum.fdb`` bytes; ``source`` names the file in errors
    (``source:line: ...``, a ``CtysError``)."""
    records: dict[tuple[str, ...], InventoryRecord] = {}
    first_line: dict[tuple[str, ...], int] = {}
    warnings: list[str] = []
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the end of the last line, not an empty line
    for number, raw in enumerate(lines, start=1):
        line = _decode(raw.removesuffix(b"\r"), source, number)
        if not line or line.startswith("#"):
            continue
        record = record_of_line(line, source, number)
        key = (record.host, record.pname, record.mac, record.tcp)
        if key in first_line:
            warnings.append(
                f"{source}:{number}: the same HOST, ID, MAC and TCP as line "
                f"{first_line[key]}: it replaces that line"
            )
        else:
            first_line[key] = number
        records[key] = record
    return FdbContent(tuple(records.values()), tuple(warnings))


def record_of_line(line: str, source: str, number: int) -> InventoryRecord:
    """One ``enum.fdb`` line (without its line end) as a record."""
    values = line.split(SEPARATOR)
    width = len(values)
    if width not in WIDTHS:
        raise CtysError(
            f"{source}:{number}: {width} fields; an enum.fdb line has {FULL_WIDTH} "
            f"(ctys 01.11) or {SHORT_WIDTH} (01.10)"
        )
    if width == SHORT_WIDTH:
        padding = ("",) * (FULL_WIDTH - SHORT_WIDTH)
        return record_from_values((*values, *padding, *_OWN_PADDING[:-1], _SHORT))
    return record_from_values((*values, *_OWN_PADDING))


def fdb_line(record: InventoryRecord, target: str, number: int) -> str:
    """The ``enum.fdb`` line of ``record`` (without its line end): 43 fields when it came
    from a 43-field line and fields 44-47 are still empty, else 47. A value holding
    ``;`` or a line break is a ``CtysError`` naming ``target:number``."""
    values = record.machine_values()
    if record.fdbwidth == _SHORT and not any(values[SHORT_WIDTH:]):
        values = values[:SHORT_WIDTH]
    line = SEPARATOR.join(values)
    if line.count(SEPARATOR) != len(values) - 1 or "\n" in line or "\r" in line:
        _refuse(values, record, target, number)
    if line.startswith("#"):
        # A reader (the original's grep -v '^#', and ours) takes such a line for a comment.
        vm = record.label or record.pname or "a record"
        raise CtysError(
            f"{target}:{number}: HOST of {vm!r} starts with '#', which enum.fdb reads as a"
            " comment line; use ctys' own format (--format ctys)"
        )
    return line


def _refuse(values: Sequence[str], record: InventoryRecord, target: str, number: int) -> None:
    for name, value in zip(MACHINE_FIELDS, values, strict=False):
        for char, what in _FORBIDDEN.items():
            if char in value:
                vm = record.label or record.pname or "a record"
                raise CtysError(
                    f"{target}:{number}: {name} of {vm!r} holds {what}, which enum.fdb "
                    "cannot hold (no escapes); use ctys' own format (--format ctys)"
                )


def write_enum_fdb(records: Iterable[InventoryRecord], out: TextIO, target: str) -> int:
    """Write ``records`` as ``enum.fdb`` lines to ``out``; return how many. Every line is
    checked before the first is written, so a refused value leaves ``out`` untouched."""
    lines = [fdb_line(record, target, n) for n, record in enumerate(records, start=1)]
    for line in lines:
        out.write(line + "\n")
    return len(lines)


def without_own_fields(record: InventoryRecord) -> InventoryRecord:
    """``record`` as ``enum.fdb`` keeps it: ctys' own fields (MODE, SCANNED) empty."""
    return replace(record, mode="", scanned="")


def _decode(raw: bytes, source: str, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CtysError(f"{source}:{number}: not UTF-8 text ({err.reason})") from None
