"""ctys-vhost -o (the original's output keys) and its query words through main(argv)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctys.cli.vhost import main
from ctys.cli.vhostout import parse_output
from ctys.errors import UsageError
from ctys.inventory.query import field_position
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory

RECORDS = [
    InventoryRecord(
        host="h1", stype="QEMU", label="b", pname="/v/b.conf", uuid="U-2", tcp="10.0.0.2"
    ),
    InventoryRecord(host="h1", stype="QEMU", label="a", pname="/v/a.conf", uuid="U-1", mac="m1"),
    InventoryRecord(host="h2", stype="QEMU", label="a", pname="/v/a.conf", uuid="U-1", mac="m1"),
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "inv.sqlite"
    with Inventory.open(path) as inventory:
        inventory.add(RECORDS)
    return path


def _out(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str]:
    code = main(["-c", str(db), *argv])
    return code, capsys.readouterr().out


def _pos(name: str) -> int:
    position = field_position(name)
    assert position is not None
    return position


def test_titleidx_names_each_column_with_its_field_number(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _out(capsys, db, "-t", "-o", "L,TITLEIDX", "R:1")
    assert (code, out) == (0, f"LABEL({_pos('LABEL')})\nb\n")
    _, out = _out(capsys, db, "-t", "-o", "PM,TITLEIDXASC", "R:1")
    assert out == "HOST(A-1)\nh1\n"


def test_maxkey_ip_index_and_dns(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _out(capsys, db, "-t", "-o", "MAXKEY", "R:2")
    assert out == "h1;QEMU;a;/v/a.conf;U-1;m1\n"
    _, out = _out(capsys, db, "-t", "-o", "L,IP", "R:1")
    assert out == "b;10.0.0.2\n"
    _, out = _out(capsys, db, "-t", "-o", "INDEX,L", "a")
    assert out == "a;2\na;3\n"  # record order: LABEL (3) before INDEX (32)
    _, out = _out(capsys, db, "-t", "-o", "L,DNS", "R:1")
    assert out == "b;10.0.0.2\n"  # no DNS name recorded: the address


def test_tab_gen_titles_widths_and_field_numbers(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = f"TAB_GEN:{_pos('LABEL')}_name_4%%{_pos('PNAME')}_conf_3"
    code, out = _out(capsys, db, "-o", spec, "R:1")
    header, row = out.splitlines()
    assert (code, header.split(), row.split()) == (0, ["name", "conf"], ["b", "/v/"])
    with pytest.raises(UsageError, match="TAB_GEN:<field#>_<title>_<width>"):
        parse_output("TAB_GEN:3_label", terse=False, json=False, title=False)


def test_sort_unique_reverse_and_column(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _out(capsys, db, "-t", "-o", "L,SORT")
    assert out == "a\na\nb\n"
    _, out = _out(capsys, db, "-t", "-o", "L,SORT:UNIQUE%REVERSE")
    assert out == "b\na\n"
    _, out = _out(capsys, db, "-t", "-o", "PM,L,SORT:2%R")
    assert out == "h1;b\nh1;a\nh2;a\n"
    code = main(["-c", str(db), "-o", "L,SORT:3"])
    assert code == 2


def test_json_keys_are_field_names(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _out(capsys, db, "-j", "-o", "L,INDEX", "R:3")
    assert json.loads(out) == [{"LABEL": "a", "INDEX": "3"}]


def test_the_issues_query_forms(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "ctys-vhost reads F:4:3 as a file name": now field 4 (ID) searched for "a".
    _, out = _out(capsys, db, "-t", "-o", "PM,L", f"F:{_pos('PNAME')}:a")
    assert out == "h1;a\nh2;a\n"
    _, out = _out(capsys, db, "-t", "-o", "PM,L", "a", "AND", "NOT", "h1")
    assert out == "h2;a\n"
    _, out = _out(capsys, db, "-t", "-o", "PM,L", "R:1", "OR", "h2")
    assert out == "h1;b\nh2;a\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-o", "XML_GEN"], "not supported by ctys"),
        (["-o", "L:3"], "a field takes no ':' argument"),
        (["-o", "SORT:X"], "SORT takes"),
        (["-o", "TAB_GEN:99_x_3"], "no field 99"),
        (["a", "AND"], "ends in 'AND'"),
        (["OR", "a"], "starts with 'OR'"),
        (["F:1"], "F:<field number>:<regex>"),
        (["web("], "not a regular expression"),
    ],
)
def test_bad_output_and_query_words_are_usage_errors(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["-c", str(db), *argv])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err.startswith("ctys-vhost: ") and message in captured.err
    assert captured.err.count("\n") == 1
