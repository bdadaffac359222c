"""The header line of the original's terse output: none, ctys' field names, the original's
TITLE names, with their positions (TITLEIDX: ``Label(3)``) or with spreadsheet column
letters too (TITLEIDXASC: ``Label(C-3)``)."""

from __future__ import annotations

from enum import Enum


class Title(Enum):
    """Which header line terse output gets."""

    NONE = "NONE"
    NAMES = "NAMES"
    TITLE = "TITLE"
    TITLEIDX = "TITLEIDX"
    TITLEIDXASC = "TITLEIDXASC"


TITLE_SUBOPTIONS = {
    "TITLE": Title.TITLE,
    "TITLEIDX": Title.TITLEIDX,
    "TITLEIDXASC": Title.TITLEIDXASC,
}


def column_letters(position: int) -> str:
    """The spreadsheet column of 1-based ``position``: 1 → ``A``, 26 → ``Z``, 27 → ``AA``."""
    if position < 1:
        raise ValueError(f"no column {position}")
    letters = ""
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def titled(name: str, position: int | None, style: Title) -> str:
    """The title ``name`` of the field at ``position`` as ``style`` prints it (a field
    with no position, one of ctys' own, keeps its bare name)."""
    if position is None or style not in (Title.TITLEIDX, Title.TITLEIDXASC):
        return name
    if style is Title.TITLEIDX:
        return f"{name}({position})"
    return f"{name}({column_letters(position)}-{position})"
