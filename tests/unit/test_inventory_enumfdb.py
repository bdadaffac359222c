"""The original's ``enum.fdb`` (issue 12, points 3, 4 and 6): ``ctys-vhost --import`` then
``--export`` gives an original file back byte for byte (43- and 47-field lines), a value
enum.fdb cannot hold is refused with file:line, ``-p DIR`` reads and writes
``DIR/enum.fdb`` and fills addresses from ``DIR/macmap.fdb``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctys.cli.vhost import main
from ctys.errors import CtysError
from ctys.inventory.enumfdb import fdb_line, parse_enum_fdb, write_enum_fdb
from ctys.inventory.fields import FIELDS, FULL_WIDTH, SHORT_WIDTH
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory

CONF = "/home/u/qemu/web/web.ctys"
# Hand-written as the original writes them: ctys 01.11 (47 fields; a multihomed VM is one
# line per address) and ctys 01.10 (43 fields).
LINE_47 = (
    "delphi;QEMU;web;" + CONF + ";0a1b2c3d-0000-4000-8000-00000000abcd;52:54:00:12:34:56;"
    "10.0.0.5;1;5901;;5900;debian;12;Linux;6.1;01.11.022;;VM;ACTIVE;QEMU-2.0;;;;;;;22;"
    "web.soho;QEMU-8.2;KVM;/usr/bin/qemu-system-x86_64;;eth0;01_11_022;255.255.255.0;"
    "10.0.0.1;br0;x86_64;PC;1024;2;;my note;1000;1000;;VNC"
)
LINE_47_SECOND_IP = LINE_47.replace("52:54:00:12:34:56;10.0.0.5", "52:54:00:12:34:57;10.1.0.5")
LINE_43 = (
    "delphi;QEMU;old;/vm/old/old.conf;;52:54:00:00:00:01;;;;;;CentOS;5.4;Linux;2.6;;;VM;;;;;;;"
    ";;;;;KVM;;;;;;;;i386;;512;1;;"
)
LINE_47_EMPTY_TAIL = LINE_47.replace(";1000;1000;;VNC", ";;;;")


def test_the_hand_written_lines_have_the_original_widths() -> None:
    assert LINE_47.count(";") == FULL_WIDTH - 1 == LINE_47_EMPTY_TAIL.count(";")
    assert LINE_43.count(";") == SHORT_WIDTH - 1


def _vhost(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "lines",
    [
        [LINE_47],
        [LINE_43],
        [LINE_47, LINE_47_SECOND_IP, LINE_43, LINE_47_EMPTY_TAIL.replace("web", "w2")],
    ],
)
def test_an_original_file_round_trips_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str]
) -> None:
    original = tmp_path / "enum.fdb"
    original.write_bytes(("\n".join(lines) + "\n").encode())
    db = tmp_path / "inv.sqlite"
    code, _, err = _vhost(capsys, "--inventory", str(db), "--import", str(original))
    assert code == 0, err
    again = tmp_path / "again.fdb"
    assert _vhost(capsys, "--inventory", str(db), "--export", str(again))[0] == 0
    assert again.read_bytes() == original.read_bytes()
    code, out, _ = _vhost(capsys, "--inventory", str(db), "--export", "-")
    assert out.encode() == original.read_bytes()


def test_fields_land_at_their_original_positions() -> None:
    record, old = parse_enum_fdb(f"{LINE_47}\n{LINE_43}\n".encode(), "f").records
    assert (record.host, record.label, record.pname, record.tcp) == (
        "delphi",
        "web",
        CONF,
        "10.0.0.5",
    )
    assert (record.display, record.vncport, record.vncbase, record.vmstate) == (
        "1",
        "5901",
        "5900",
        "ACTIVE",
    )
    assert (record.netname, record.hyperrelrun, record.accelerator) == (
        "web.soho",
        "QEMU-8.2",
        "KVM",
    )
    assert (record.relay, record.vram, record.userstring, record.defconsole) == (
        "br0",
        "1024",
        "my note",
        "VNC",
    )
    assert (old.label, old.dist, old.arch, old.vram, old.vcpu) == (
        "old",
        "CentOS",
        "i386",
        "512",
        "1",
    )
    assert (old.uid, old.defconsole, old.fdbwidth) == ("", "", "43")
    assert record.fdbwidth == ""  # fmt: skip


@pytest.mark.parametrize("width", [1, 29, 42, 44, 46, 48])
def test_a_line_of_another_width_is_refused_with_file_and_line(width: int) -> None:
    data = (LINE_47 + "\n" + ";".join(["x"] * width) + "\n").encode()
    with pytest.raises(CtysError, match=rf"^f\.fdb:2: {width} fields; an enum\.fdb line has 47"):
        parse_enum_fdb(data, "f.fdb")


def test_not_utf8_is_refused_with_file_and_line() -> None:
    with pytest.raises(CtysError, match=r"^f:2: not UTF-8"):
        parse_enum_fdb(LINE_47.encode() + b"\n\xff" + LINE_43.encode() + b"\n", "f")


def test_comments_empty_lines_and_crlf_are_read() -> None:
    data = f"# a note\n\n{LINE_47}\r\n".encode()
    assert [r.label for r in parse_enum_fdb(data, "f").records] == ["web"]


def test_a_repeated_address_replaces_the_earlier_line_with_a_warning() -> None:
    changed = LINE_47.replace(";ACTIVE;", ";DISABLED;")
    content = parse_enum_fdb(f"{LINE_47}\n{LINE_43}\n{changed}\n".encode(), "f")
    assert [r.vmstate for r in content.records] == ["DISABLED", ""]
    assert content.warnings == (
        "f:3: the same HOST, ID, MAC and TCP as line 1: it replaces that line",
    )


@pytest.mark.parametrize(
    ("value", "what"), [("a;b", "';'"), ("two\nlines", "a newline"), ("cr\r", "a carriage return")]
)
def test_export_refuses_what_enum_fdb_cannot_hold_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, what: str
) -> None:
    db = tmp_path / "inv.sqlite"
    with Inventory.open(db) as inv:
        inv.add([InventoryRecord(host="h", label="ok", pname="/v/ok.conf")])
        inv.add([InventoryRecord(host="h", label="bad", pname="/v/bad.conf", userstring=value)])
    target = tmp_path / "enum.fdb"
    code, out, err = _vhost(capsys, "--inventory", str(db), "--export", str(target))
    assert code == 1 and out == ""
    assert err == (
        f"ctys-vhost: {target}:2: USERSTRING of 'bad' holds {what}, which enum.fdb cannot hold"
        " (no escapes); use ctys' own format (--format ctys)\n"
    )
    assert not [p for p in tmp_path.iterdir() if "fdb" in p.name]  # no file, no temp file
    # ctys' own format holds it.
    assert (
        _vhost(capsys, "--inventory", str(db), "--export", str(target), "--format", "ctys")[0] == 0
    )


# -- properties ------------------------------------------------------------------------

_plain = st.text(
    alphabet=st.characters(blacklist_characters=";\n\r", blacklist_categories=("Cs",)), max_size=8
)


@st.composite
def _exportable(draw: st.DrawFn) -> InventoryRecord:
    """A record ctys can export to enum.fdb: no ';' or line break in its 47 values; its
    width mark only where it holds (a 43-field record has empty fields 44-47)."""
    values = draw(st.lists(_plain, min_size=FULL_WIDTH, max_size=FULL_WIDTH))
    short = draw(st.booleans())
    if short:
        values[SHORT_WIDTH:] = [""] * (FULL_WIDTH - SHORT_WIDTH)
    if not any(values):
        values[0] = "h"  # an all-empty 47-field line would be ';' * 46: still a line
    if values[0].startswith("#"):
        values[0] = "h" + values[0]  # a comment line in enum.fdb: refused on export
    return InventoryRecord(*values, *([""] * (len(FIELDS) - FULL_WIDTH - 1)), "43" if short else "")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_exportable(), max_size=6))
def test_any_record_ctys_exports_imports_back_equal(records: list[InventoryRecord]) -> None:
    # One record per address: the file holds each once.
    unique = list({(r.host, r.pname, r.mac, r.tcp): r for r in records}.values())
    out = io.StringIO()
    write_enum_fdb(unique, out, "t")
    data = out.getvalue().encode()
    assert list(parse_enum_fdb(data, "t").records) == unique
    again = io.StringIO()
    write_enum_fdb(parse_enum_fdb(data, "t").records, again, "t")
    assert again.getvalue().encode() == data


@settings(max_examples=200)
@given(st.lists(st.lists(_plain, min_size=1, max_size=1), min_size=1, max_size=4), st.data())
def test_any_original_line_round_trips_byte_for_byte(
    rows: list[list[str]], data: st.DataObject
) -> None:
    lines = []
    for number, _ in enumerate(rows):
        width = data.draw(st.sampled_from([SHORT_WIDTH, FULL_WIDTH]))
        values = data.draw(st.lists(_plain, min_size=width, max_size=width))
        values[0] = f"h{number}"  # one address a line; no comment/empty line
        lines.append(";".join(values))
    original = ("\n".join(lines) + "\n").encode()
    content = parse_enum_fdb(original, "o")
    out = io.StringIO()
    write_enum_fdb(content.records, out, "o")
    assert out.getvalue().encode() == original


@settings(max_examples=200)
@given(
    st.lists(_exportable(), min_size=1, max_size=3), st.sampled_from([";", "\n", "\r"]), st.data()
)
def test_export_refuses_any_record_with_a_separator_or_line_break(
    records: list[InventoryRecord], bad: str, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(st.integers(0, FULL_WIDTH - 1))
    values = list(records[index].values())
    values[field] += bad
    records[index] = InventoryRecord(*values)
    out = io.StringIO()
    with pytest.raises(CtysError, match=rf"^t:{index + 1}: {FIELDS[field]} of "):
        write_enum_fdb(records, out, "t")
    assert out.getvalue() == ""


# -- the DB directory (-p) -----------------------------------------------------------------


@pytest.fixture
def db_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "db" / "default"
    folder.mkdir(parents=True)
    (folder / "enum.fdb").write_text(f"{LINE_47}\n{LINE_43}\n")
    return folder


def test_p_dir_answers_queries_from_its_enum_fdb(
    db_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db_dir.parent)
    code, out, err = _vhost(capsys, "-p", str(db_dir), "-t", "-o", "L,ID", "L:old")
    assert (code, out) == (0, "old;/vm/old/old.conf\n"), err
    assert sorted(p.name for p in db_dir.parent.rglob("*")) == ["default", "enum.fdb"]


def test_p_dir_import_writes_its_enum_fdb_exactly(
    db_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "more.fdb"
    extra.write_text(LINE_47_SECOND_IP + "\n")
    code, _, err = _vhost(capsys, "-p", str(db_dir), "--import", str(extra))
    assert code == 0 and "merged 1 records" in err
    assert (db_dir / "enum.fdb").read_text() == f"{LINE_47}\n{LINE_43}\n{LINE_47_SECOND_IP}\n"
    assert _vhost(capsys, "-p", str(db_dir), "-C", "CLEAR")[0] == 0
    assert (db_dir / "enum.fdb").read_bytes() == b""


def test_p_dir_fills_addresses_and_names_from_macmap(
    db_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (db_dir / "macmap.fdb").write_text("oldbox;10.9.9.9;52:54:00:00:00:01\n")
    code, out, _ = _vhost(capsys, "-p", str(db_dir), "-t", "-o", "L,TCP,NETNAME", "L:old")
    assert (code, out) == (0, "old;10.9.9.9;oldbox\n")
    # The enum.fdb itself keeps what it had, and so does an export of it.
    assert (db_dir / "enum.fdb").read_text() == f"{LINE_47}\n{LINE_43}\n"
    code, out, _ = _vhost(capsys, "-p", str(db_dir), "--export", "-", "L:old")
    assert out == LINE_43 + "\n"


def test_p_dir_errors_are_one_line(
    db_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _vhost(capsys, "-p", str(tmp_path / "nope"), "x")
    assert (
        code == 1
        and err
        == f"ctys-vhost: no DB directory {tmp_path / 'nope'} (-p names a folder with enum.fdb)\n"
    )
    (db_dir / "macmap.fdb").write_text("a;b\n")
    code, _, err = _vhost(capsys, "-p", str(db_dir), "x")
    assert (
        code == 1
        and err
        == f"ctys-vhost: {db_dir / 'macmap.fdb'}:1: 2 fields; macmap.fdb has nodename;IP;MAC\n"
    )
    (db_dir / "enum.fdb").write_text("a;b\n")
    code, _, err = _vhost(capsys, "-p", str(db_dir), "x")
    assert code == 1 and err.startswith(f"ctys-vhost: {db_dir / 'enum.fdb'}:1: 2 fields;")


def test_a_host_starting_with_hash_is_refused_on_export() -> None:
    # The line would read back as a comment: the record would be lost without a word.
    record = InventoryRecord(host="#h", label="vm1")
    with pytest.raises(CtysError, match=r"out:1: HOST of 'vm1' starts with '#'"):
        fdb_line(record, "out", 1)
