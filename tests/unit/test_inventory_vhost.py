"""ctys-vhost through main(argv): queries, output formats, import/export, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctys.cli.vhost import main
from ctys.inventory.cachedb import import_cachedb
from ctys.inventory.record import FIELDS, InventoryRecord
from ctys.inventory.store import Inventory

RECORDS = [
    InventoryRecord(
        host="h1",
        label="vm1",
        pname="/v/vm1.conf",
        uuid="U-1",
        mac="52:54:00:00:00:01",
        tcp="10.0.0.1",
        vncport="5901",
    ),
    InventoryRecord(
        host="h2",
        label="vm1",
        pname="/v/vm1.conf",
        uuid="U-1",
        mac="52:54:00:00:00:01",
        tcp="10.0.0.1",
        vncport="5901",
    ),
    InventoryRecord(
        host="h1",
        stype="QEMU",
        label="vm2",
        pname="/v/vm2.conf",
        uuid="U-2",
        userstring="semi;colon",
    ),
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "inv.sqlite"
    with Inventory.open(path) as inventory:
        inventory.add(RECORDS)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_by_default_with_header(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "-c", str(db), "L:vm2")
    assert code == 0
    header, row = out.splitlines()
    # The original's default table (its TAB_CTYS_VHOST_DEFAULT).
    titles = ["label", "stype", "accel", "distro", "distrorel", "os", "osrel", "PM", "if", "TCP"]
    assert header.split() == titles
    assert row.split() == ["vm2", "QEMU", "h1"]


def test_terse_with_fields_aliases_and_title(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "-c", str(db), "-t", "-o", "L,H,CPORT", "L:vm1")
    # In record order whatever the order in -o, as the original.
    assert (code, out) == (0, "h1;vm1;5901\nh2;vm1;5901\n")
    code, out, _ = _run(capsys, "-c", str(db), "-o", "L,UUID,TITLE,TERSE", "vm2")
    assert out == "LABEL;UUID\nvm2;U-2\n"
    _, out, _ = _run(capsys, "-c", str(db), "-t", "--title", "-o", "l", "vm2")
    assert out == "LABEL\nvm2\n"


def test_terse_without_fields_is_the_whole_escaped_record(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "-c", str(db), "-o", "MACHINE", "vm2")
    assert import_cachedb(out, "out") == [RECORDS[2]]


def test_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "-c", str(db), "-j", "-o", "L,HOST", "U:u-1")
    assert code == 0
    assert json.loads(out) == [{"HOST": "h1", "LABEL": "vm1"}, {"HOST": "h2", "LABEL": "vm1"}]
    code, out, _ = _run(capsys, "-c", str(db), "--json", "L:none")
    assert (code, json.loads(out)) == (1, [])
    _, out, _ = _run(capsys, "-c", str(db), "-j", "vm2")
    assert list(json.loads(out)[0]) == list(FIELDS)


def test_match_rules_and_host_filter(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "-c", str(db), "-t", "-o", "L,H", "-M", "LAST", "vm")
    assert out == "h1;vm2\n"
    _, out, _ = _run(capsys, "-c", str(db), "-t", "-o", "L,H", "--host", "h2")
    assert out == "h2;vm1\n"
    _, out, _ = _run(capsys, "-c", str(db), "-t", "-o", "L", "--host", "h1", "vm1", "OR", "vm2")
    assert out == "vm1\nvm2\n"
    _, out, _ = _run(capsys, "-c", str(db), "-t", "-o", "L", "-M", "usort", "vm")
    assert out == "vm1\nvm2\n"
    _, out, _ = _run(capsys, "-c", str(db), "-t", "-o", "L,U", "-M", "UNIQUE", "L:vm1")
    assert out == "vm1;U-1\n"
    _, out, _ = _run(capsys, "-c", str(db), "-t", "-o", "L,H", "-M", "COMPLEMENT", "L:vm1")
    assert out == "h1;vm2\n"


def test_not_unique_is_one_error_line_exit_11(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "-c", str(db), "-o", "L", "-M", "UNIQUE", "vm")
    assert (code, out) == (11, "")
    assert err == "ctys-vhost: 2 different records match: vm1, vm2\n"


def test_no_match_exits_1_silently(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "-c", str(db), "L:nope") == (1, "", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-M", "BEST", "x"], "unknown match rule 'BEST'"),
        (["-o", "L,NOPE", "x"], "unknown field 'NOPE'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["-C", "REBUILD"], "unknown -C command 'REBUILD'"),
        (["-t", "-j", "x"], "-t and -j exclude each other"),
        (["-o"], "expected one argument"),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, "-c", str(db), *argv)
    assert code == 2 and out == ""
    assert err.startswith("ctys-vhost: ") and message in err
    assert err.count("\n") == 1


def test_missing_inventory_and_broken_inventory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.sqlite"
    code, _, err = _run(capsys, "-c", str(missing), "x")
    assert code == 1 and err.startswith(f"ctys-vhost: no inventory at {missing}")
    assert not missing.exists()
    broken = tmp_path / "broken.sqlite"
    broken.write_text("hello\n" * 200)
    code, _, err = _run(capsys, "-c", str(broken), "x")
    assert code == 1 and str(broken) in err and err.count("\n") == 1


def test_default_path_from_environment(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CTYS_INVENTORY", str(db))
    assert _run(capsys, "-t", "-o", "L", "L:vm2")[:2] == (0, "vm2\n")


def test_export_import_round_trip_and_clear(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "cache.fdb"
    assert _run(capsys, "-c", str(db), "--export", str(exported))[0] == 0
    text = exported.read_text()
    assert import_cachedb(text, "x") == RECORDS
    code, out, _ = _run(capsys, "-c", str(db), "--export", "-", "L:vm2")
    assert code == 0 and import_cachedb(out, "x") == [RECORDS[2]]

    fresh = tmp_path / "fresh" / "inv.sqlite"
    code, _, err = _run(capsys, "-c", str(fresh), "--import", str(exported))
    assert code == 0 and "merged 3 records" in err
    with Inventory.open(fresh) as inventory:
        assert inventory.all() == RECORDS
    again = tmp_path / "again.fdb"
    _run(capsys, "-c", str(fresh), "--export", str(again))
    assert again.read_text() == text

    code, out, _ = _run(capsys, "-c", str(fresh), "-C", "LIST")
    assert code == 0 and "records:   3" in out and "h1, h2" in out
    assert _run(capsys, "-c", str(fresh), "-C", "clear")[0] == 0
    with Inventory.open(fresh) as inventory:
        assert inventory.count() == 0


def test_import_of_a_bad_file_is_one_error_line(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.fdb"
    bad.write_text("h;QEMU;ok\n" + ";" * len(FIELDS) + "\n")
    code, _, err = _run(capsys, "-c", str(db), "--import", str(bad))
    assert code == 1 and err == (
        f"ctys-vhost: {bad}:2: {len(FIELDS) + 1} fields, at most {len(FIELDS)} are known\n"
    )
    code, _, err = _run(capsys, "-c", str(db), "--import", str(tmp_path / "nope.fdb"))
    assert code == 1 and err.startswith("ctys-vhost: cannot read")
    with Inventory.open(db) as inventory:
        assert inventory.count() == 3  # nothing half-imported


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "-h")
    assert code == 0 and "PATTERN" in out
