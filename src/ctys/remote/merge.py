"""Turn what each target answered into one report: prefixed lines, merged rows, records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TextIO

from ctys.errors import CtysError
from ctys.inventory.record import FIELDS, InventoryRecord, record_from_values
from ctys.remote.fanout import TargetResult

__all__ = [
    "HOST_FIELD",
    "error_line",
    "json_rows",
    "prefix_lines",
    "record_values",
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
    rows: list[dict[str, object]] = data  # JSON objects: str keys (not copied: 1M rows)
    return rows


def rows_with_host(host: str, rows: Iterable[Mapping[str, object]]) -> list[dict[str, object]]:
    """The rows with ``HOST`` first, set to ``host``."""
    return [{HOST_FIELD: host, **{k: v for k, v in row.items() if k != HOST_FIELD}} for row in rows]


_POSITION = {name: i for i, name in enumerate(FIELDS)}
_HOST_POSITION = _POSITION[HOST_FIELD]
_NO_VALUES = ("",) * len(FIELDS)


def record_values(host: str | None, rows: Iterable[Mapping[str, object]]) -> list[tuple[str, ...]]:
    """The values (``FIELDS`` order) of the inventory records of ENUMERATE JSON rows, every
    one recorded for ``host`` (the target as the user named it; ``None``: the HOST of each
    row): a value is its text, ``null`` and a missing key are empty, unknown keys are
    ignored. What ``Inventory.replace_scan_values`` stores, without making the records
    (a merge of 1,000 hosts x 1,000 VMs spent a quarter of its time on them)."""
    table: list[tuple[str, ...]] = []
    for row in rows:
        values = list(_NO_VALUES)
        for name, value in row.items():  # the few keys a row has, not all 50 fields
            position = _POSITION.get(name)
            if position is not None:
                values[position] = value if type(value) is str else _text(value)
        if host is not None:
            values[_HOST_POSITION] = host
        table.append(tuple(values))
    return table


def records_from_rows(
    host: str | None, rows: Iterable[Mapping[str, object]]
) -> list[InventoryRecord]:
    """The inventory records of ENUMERATE JSON rows (their values: ``record_values``)."""
    return [record_from_values(values) for values in record_values(host, rows)]


def _text(value: object) -> str:
    return "" if value is None else str(value)
