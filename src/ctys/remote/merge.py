"""Turn what each target answered into one report: prefixed lines, merged rows, records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TextIO

from ctys.errors import CtysError
from ctys.inventory.record import FIELDS, InventoryRecord
from ctys.remote.fanout import TargetResult

__all__ = [
    "HOST_FIELD",
    "error_line",
    "json_rows",
    "prefix_lines",
    "records_from_rows",
    "report_streams",
    "rows_with_host",
]

HOST_FIELD = "HOST"
_ERROR_PREFIX = "ctys: "


def prefix_lines(name: str, text: str) -> list[str]:
    """Each line of ``text`` as ``name: line``; a remote ``ctys: message`` becomes
    ``ctys: name: message`` so error lines keep their shape."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(_ERROR_PREFIX):
            lines.append(f"{_ERROR_PREFIX}{name}: {line[len(_ERROR_PREFIX) :]}")
        else:
            lines.append(f"{name}: {line}")
    return lines


def error_line(result: TargetResult) -> str:
    """The one line that says why a target failed: ``ctys: host3: ssh failed: ...``."""
    return f"{_ERROR_PREFIX}{result.target}: {result.error}"


def report_streams(
    result: TargetResult, out: TextIO, err: TextIO, *, stdout: bool = True, debug: int = 0
) -> None:
    """Print a target's output under its name: stdout (unless the caller merges it) to
    ``out``, stderr to ``err``; a failed target gets its one error line instead of ssh's
    chatter (all of it with ``-d``)."""
    if result.error is not None:
        if debug:
            for line in prefix_lines(result.target, result.stderr):
                print(line, file=err)
        print(error_line(result), file=err)
        return
    if stdout:
        for line in prefix_lines(result.target, result.stdout):
            print(line, file=out)
    for line in prefix_lines(result.target, result.stderr):
        print(line, file=err)


def json_rows(result: TargetResult) -> list[dict[str, object]]:
    """The rows a target printed as JSON (a list of objects); ``CtysError`` otherwise."""
    try:
        data = json.loads(result.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise CtysError(f"not a JSON answer ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise CtysError("not a JSON list of rows")
    return [dict(row) for row in data]


def rows_with_host(host: str, rows: Iterable[Mapping[str, object]]) -> list[dict[str, object]]:
    """The rows with ``HOST`` first, set to ``host``."""
    return [{HOST_FIELD: host, **{k: v for k, v in row.items() if k != HOST_FIELD}} for row in rows]


_FIELD_ATTRS = tuple((name, name.lower()) for name in FIELDS)


def records_from_rows(
    host: str | None, rows: Iterable[Mapping[str, object]]
) -> list[InventoryRecord]:
    """Inventory records from ENUMERATE JSON rows, every one recorded for ``host`` (the
    target as the user named it; ``None``: the HOST of each row). Unknown keys are ignored,
    missing ones empty."""
    records: list[InventoryRecord] = []
    for row in rows:
        values = {attr: _text(row[name]) for name, attr in _FIELD_ATTRS if name in row}
        if host is not None:
            values["host"] = host
        records.append(InventoryRecord(**values))
    return records


def _text(value: object) -> str:
    return "" if value is None else str(value)
