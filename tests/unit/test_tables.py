"""ctys.tables.render: table, terse and JSON output of result rows."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from ctys.invocation import OutputFormat
from ctys.tables import escape_terse, render, text_value

ROWS = [
    {"LABEL": "vm1", "PID": 42, "MANAGED": True, "CONF": Path("/vms/vm1/vm1.conf"), "IP": None},
    {"LABEL": "a;b\nc", "PID": 7, "MANAGED": False, "CONF": None, "IP": "10.0.0.2"},
]
FIELDS = ["LABEL", "PID", "MANAGED", "CONF", "IP"]


def _render(fmt: OutputFormat, fields: list[str] = FIELDS, *, title: bool = True) -> str:
    out = io.StringIO()
    render(ROWS, fields, fmt, out, title=title)
    return out.getvalue()


def test_json_is_a_list_of_objects_with_native_values() -> None:
    data = json.loads(_render(OutputFormat.JSON))
    assert data == [
        {"LABEL": "vm1", "PID": 42, "MANAGED": True, "CONF": "/vms/vm1/vm1.conf", "IP": None},
        {"LABEL": "a;b\nc", "PID": 7, "MANAGED": False, "CONF": None, "IP": "10.0.0.2"},
    ]


def test_json_keeps_field_order_and_selection_and_missing_fields_are_null() -> None:
    data = json.loads(_render(OutputFormat.JSON, ["IP", "LABEL", "NOPE"]))
    assert [list(d) for d in data] == [["IP", "LABEL", "NOPE"]] * 2
    assert data[0]["NOPE"] is None


def test_json_of_no_rows_is_an_empty_list() -> None:
    out = io.StringIO()
    render([], FIELDS, OutputFormat.JSON, out)
    assert json.loads(out.getvalue()) == []


def test_terse_one_line_per_row_with_escapes() -> None:
    text = _render(OutputFormat.TERSE, title=False)
    assert text.splitlines() == [
        "vm1;42;yes;/vms/vm1/vm1.conf;",
        "a\\;b\\nc;7;no;;10.0.0.2",
    ]


def test_terse_title_line() -> None:
    lines = _render(OutputFormat.TERSE, ["LABEL", "PID"], title=True).splitlines()
    assert lines == ["LABEL;PID", "vm1;42", "a\\;b\\nc;7"]


def test_escape_terse_keeps_fields_countable() -> None:
    assert escape_terse("a\\;b") == "a\\\\\\;b"
    assert escape_terse("x\r\ny") == "x\\r\\ny"
    for value in ("a;b;c", "p\\q;", "\n;\n"):
        escaped = escape_terse(value)
        assert "\n" not in escaped
        # every ';' left is escaped: preceded by an odd number of backslashes
        for i, ch in enumerate(escaped):
            if ch == ";":
                run = len(escaped[:i]) - len(escaped[:i].rstrip("\\"))
                assert run % 2 == 1


def test_text_value() -> None:
    assert text_value(None) == ""
    assert text_value(True) == "yes"
    assert text_value(False) == "no"
    assert text_value(0) == "0"
    assert text_value(Path("/x")) == "/x"


def test_table_has_header_and_unwrapped_rows_off_a_terminal() -> None:
    long_conf = "/very/long/" + "d" * 150 + "/vm.conf"
    out = io.StringIO()
    render([{"LABEL": "vm1", "CONF": long_conf}], ["LABEL", "CONF"], OutputFormat.TABLE, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["LABEL", "CONF"]
    assert lines[1].split() == ["vm1", long_conf]  # one line, not wrapped at 80 columns
    assert all(line == line.rstrip() for line in lines)
    assert "\x1b[" not in out.getvalue()  # no colour codes into a pipe


def test_table_values_are_not_rich_markup() -> None:
    out = io.StringIO()
    render([{"LABEL": "[bold]x[/bold]", "PID": None}], ["LABEL", "PID"], OutputFormat.TABLE, out)
    assert "[bold]x[/bold]" in out.getvalue()


def test_table_without_title() -> None:
    text = _render(OutputFormat.TABLE, ["LABEL", "PID"], title=False)
    assert "LABEL" not in text
    assert text.splitlines()[0].split() == ["vm1", "42"]


def test_rich_is_imported_only_for_tables_it_must_draw() -> None:
    # An ASCII table off a terminal is drawn without rich; a wide character needs rich's
    # cell widths.
    code = (
        "import io, sys\n"
        "from ctys.tables import render\n"
        "from ctys.invocation import OutputFormat\n"
        "render([{'A': 1}], ['A'], OutputFormat.TERSE, io.StringIO())\n"
        "render([{'A': 1}], ['A'], OutputFormat.JSON, io.StringIO())\n"
        "assert 'rich' not in sys.modules, 'rich imported'\n"
        "render([{'A': 1}], ['A'], OutputFormat.TABLE, io.StringIO())\n"
        "assert 'rich' not in sys.modules, 'rich imported for an ASCII table'\n"
        "render([{'A': '\u4e2d'}], ['A'], OutputFormat.TABLE, io.StringIO())\n"
        "assert 'rich' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
