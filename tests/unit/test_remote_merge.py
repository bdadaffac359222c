"""Turning the targets' answers into one report."""

from __future__ import annotations

import pytest

from ctys.errors import CtysError
from ctys.inventory.record import InventoryRecord
from ctys.remote.fanout import TargetResult
from ctys.remote.merge import (
    error_line,
    json_rows,
    prefix_lines,
    records_from_rows,
    rows_with_host,
)


def result(stdout: str = "", error: str | None = None) -> TargetResult:
    return TargetResult("h1", 0, stdout, "", error, 0.1)


def test_prefix_lines_keeps_error_lines_recognisable() -> None:
    assert prefix_lines("h1", "VM vm1 started\nctys: boom\n") == [
        "h1: VM vm1 started",
        "ctys: h1: boom",
    ]
    assert prefix_lines("h1", "") == []


def test_error_line() -> None:
    assert error_line(result(error="ssh failed: refused")) == "ctys: h1: ssh failed: refused"


def test_json_rows_and_host_first() -> None:
    rows = json_rows(result('[{"LABEL": "a", "PID": 3, "HOST": "x"}]'))
    assert rows == [{"LABEL": "a", "PID": 3, "HOST": "x"}]
    (row,) = rows_with_host("h1", rows)
    assert list(row) == ["HOST", "LABEL", "PID"]
    assert row["HOST"] == "h1"
    assert json_rows(result("")) == []


@pytest.mark.parametrize("text", ["not json", '{"a": 1}', "[1, 2]"])
def test_json_rows_refuses_other_answers(text: str) -> None:
    with pytest.raises(CtysError, match="not a JSON"):
        json_rows(result(text))


def test_records_from_rows_take_the_target_name() -> None:
    rows = [{"HOST": "remote-hostname", "LABEL": "vm1", "PNAME": "/v/vm1.conf", "VCPU": 2}]
    (record,) = records_from_rows("admin@far", rows)
    assert record == InventoryRecord(host="admin@far", label="vm1", pname="/v/vm1.conf", vcpu="2")
    (kept,) = records_from_rows(None, rows)
    assert kept.host == "remote-hostname"
