"""Result rows as the JSON text every ``JSON`` output prints (``ctys.tables``) and a fan-out
caller parses (``ctys.remote.merge.json_rows``).

Core utility, the lowest layer beside ``textescape``: imports nothing of ctys, so an entry
point that parses no command line (the lean LIST rows of a fan-out target) prints the same
text as the full CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath

__all__ = ["json_value", "rows_json"]


def json_value(value: object) -> object:
    """A row's value as JSON has it: paths and other objects as their text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)


def rows_json(rows: Sequence[Mapping[str, object]], fields: Sequence[str]) -> str:
    """``rows`` (only ``fields``, in that order; a missing one is ``null``) as an indented
    JSON list of objects. (``json.dumps`` itself escapes every control character inside
    strings.)"""
    import json  # only for JSON output: the table and terse forms do without it

    return json.dumps([{f: json_value(row.get(f)) for f in fields} for row in rows], indent=2)
