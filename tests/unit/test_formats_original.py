"""The original's output forms shared by LIST and ENUMERATE (``ctys.formats``): header
lines, SORT, TAB_GEN, TAB_TCP, LIST's 22-field record and the one parse of the output
suboptions. Layouts are checked against the original's awk scripts (GENERIC/LIST,
lib/tab_gen)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.errors import UsageError
from ctys.formats.listfields import (
    ALL_SELECTION,
    LIST_RECORD,
    in_list_order,
    is_list_field,
    list_field,
    list_title,
)
from ctys.formats.request import Layout, RecordShape, parse_output, write_rows
from ctys.formats.sorting import SortSpec, parse_sort, sort_records
from ctys.formats.tabgen import Cut, TabColumn, parse_tab_gen, tab_gen_lines
from ctys.formats.tabtcp import Guest, TabTcp, header_lines, parse_widths, row_line
from ctys.formats.titles import Title, column_letters, titled
from ctys.invocation import OutputFormat, Suboption

# --- LIST's record ------------------------------------------------------------------------

# list.sh / canonize.awk: the output record, in order.
ORIGINAL_LIST = (
    "PM;TYPE;LABEL;ID;UUID;MAC;TCP;DISPLAY;CPORT;SPORT;PID;UID;GID;CSTYPE;JOBID;IFNAME;"
    "RESERVED;CONTEXTSTRG;EXECPATH;HYPERRELRUN;ACCELERATOR;ARCH"
)


def test_the_list_record_is_the_originals_22_fields_in_order() -> None:
    assert ";".join(LIST_RECORD) == ORIGINAL_LIST
    assert [list_field(n).position for n in LIST_RECORD] == list(range(1, 23))


@pytest.mark.parametrize(
    ("alias", "field"),
    [
        ("HOST", "PM"), ("ST", "TYPE"), ("STYPE", "TYPE"), ("P", "ID"), ("PNAME", "ID"),
        ("PATHNAME", "ID"), ("USER", "UID"), ("GROUP", "GID"), ("SITE", "CSTYPE"),
        ("JID", "JOBID"), ("IF", "IFNAME"), ("CSTRG", "CONTEXTSTRG"), ("EXEP", "EXECPATH"),
        ("EXEPATH", "EXECPATH"), ("HRX", "HYPERRELRUN"), ("HRELX", "HYPERRELRUN"),
        ("HRELRUN", "HYPERRELRUN"), ("accel", "ACCELERATOR"),
    ],
)  # fmt: skip
def test_the_originals_list_aliases(alias: str, field: str) -> None:
    assert list_field(alias).name == field
    assert is_list_field(alias)


def test_a_selection_prints_in_record_order() -> None:
    assert in_list_order(["PID", "id", "LABEL", "L" if is_list_field("L") else "LABEL"]) == (
        "LABEL",
        "ID",
        "PID",
    )
    assert in_list_order(ALL_SELECTION) == ALL_SELECTION  # ALL leaves out UUID, MAC, TCP, ports
    assert not {"UUID", "MAC", "TCP", "DISPLAY", "CPORT", "SPORT"} & set(ALL_SELECTION)
    with pytest.raises(UsageError, match="unknown LIST field 'COLOUR'"):
        list_field("COLOUR")


def test_list_titles_as_the_original_prints_them() -> None:
    fields = ("PM", "LABEL", "GID", "CSTYPE", "CPORT")
    assert (
        list_title(fields, Title.TITLE) == "ContainingMachine;Label;GUID;C/S-Type;ClientAccessPort"
    )
    assert list_title(fields, Title.TITLEIDX) == (
        "ContainingMachine(1);Label(3);GUID(13);C/S-Type(14);ClientAccessPort(9)"
    )
    assert list_title(("LABEL", "ARCH"), Title.TITLEIDXASC) == "Label(C-3);ARCH(V-22)"


@pytest.mark.parametrize(
    ("position", "letters"), [(1, "A"), (26, "Z"), (27, "AA"), (47, "AU"), (52, "AZ"), (53, "BA")]
)
def test_column_letters(position: int, letters: str) -> None:
    assert column_letters(position) == letters
    assert titled("x", position, Title.TITLEIDXASC) == f"x({letters}-{position})"
    assert titled("x", None, Title.TITLEIDX) == "x"  # ctys' own fields have no position


# --- SORT ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "spec"),
    [
        ((), SortSpec()),
        (("3",), SortSpec(key=3)),
        (("unique", "2"), SortSpec(key=2, unique=True)),
        (("EACH",), SortSpec(each=True)),
        (("EACH", "ALL"), SortSpec()),
    ],
)
def test_parse_sort(args: tuple[str, ...], spec: SortSpec) -> None:
    assert parse_sort(args) == spec


@pytest.mark.parametrize("bad", ["0", "1000", "x", "-1", ""])
def test_a_bad_sort_key_is_one_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="SORT key"):
        parse_sort((bad,))


def test_sort_on_a_key_field_then_the_whole_record() -> None:
    rows = [("h1", "b", "2"), ("h2", "a", "9"), ("h0", "b", "1")]
    got = sort_records(rows, list, SortSpec(key=2))
    assert got == [("h2", "a", "9"), ("h0", "b", "1"), ("h1", "b", "2")]
    assert sort_records(rows, list, SortSpec()) == sorted(rows)
    # UNIQUE: one record per key, fields 2 to the end (sort -u -k 2: the first of equals).
    twins = [("h1", "b", "1"), ("h2", "a", "9"), ("h0", "b", "1")]
    assert sort_records(twins, list, SortSpec(key=2, unique=True)) == [
        ("h2", "a", "9"),
        ("h0", "b", "1"),
    ]


def test_sort_each_sorts_every_target_on_its_own() -> None:
    rows = [("B", "z"), ("B", "a"), ("A", "m"), ("A", "b")]
    got = sort_records(rows, list, SortSpec(key=2, each=True), group=lambda r: r[0])
    assert got == [("B", "a"), ("B", "z"), ("A", "b"), ("A", "m")]
    assert sort_records(rows, list, SortSpec(key=2), group=lambda r: r[0])[0] == ("B", "a")


cells = st.lists(st.text(alphabet="ab;|x", max_size=3), min_size=3, max_size=3)


@given(st.lists(cells, max_size=12), st.integers(1, 4), st.booleans())
def test_sort_keeps_the_records_and_orders_them(
    rows: list[list[str]], key: int, unique: bool
) -> None:
    got = sort_records(rows, list, SortSpec(key=key, unique=unique))
    keys = [r[key - 1 :] for r in got]
    assert keys == sorted(keys)
    if unique:
        assert len(keys) == len({tuple(k) for k in keys})
        assert {tuple(r[key - 1 :]) for r in rows} == {tuple(k) for k in keys}
    else:
        assert sorted(got) == sorted(rows)


# --- TAB_GEN --------------------------------------------------------------------------------


def _position(name: str) -> int:
    return list_field(name).position


def test_tab_gen_columns_as_the_original_writes_them() -> None:
    columns = parse_tab_gen(["3_label_12", "11", "4_id_8_L", "label__5_b"], _position, 22)
    assert columns == (
        TabColumn(3, "label", 12, Cut.END, "3"),
        TabColumn(11, "11", 10, Cut.END, "11"),  # the default title and width
        TabColumn(4, "id", 8, Cut.LEFT, "4"),
        TabColumn(3, "label", 5, Cut.BREAK, "label"),  # ctys also takes the field's name
    )


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("23", "no field 23"),
        ("0", "no field 0"),
        ("3_t_x", "bad width"),
        ("3_t_5_Q", "not L or B"),
        ("_x", "bad TAB_GEN column"),
        ("COLOUR", "unknown LIST field"),
    ],
)
def test_bad_tab_gen_columns(arg: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_tab_gen([arg], _position, 22)
    with pytest.raises(UsageError, match="needs its columns"):
        parse_tab_gen([], _position, 22)


def test_tab_gen_table_header_cuts_and_breaks() -> None:
    columns = parse_tab_gen(["1_host_6", "2_path_5_L", "3_text_4_B"], _position, 22)
    lines = tab_gen_lines([["hostname", "/a/b/c.conf", "abcdefghij"]], columns, Title.TITLE)
    assert lines == [
        "host  |path |text",
        "------+-----+----",
        "hostna|.conf|abcd",  # cut at the end, the start cut off (L), broken (B)...
        "      |     |efgh",  # ... onto further lines
        "      |     |ij  ",
    ]
    indexed = tab_gen_lines([], columns, Title.TITLEIDX)
    assert indexed[1] == "1(1)  |2(2) |3(3)"


@given(st.lists(st.lists(st.text(max_size=30), min_size=3, max_size=3), max_size=5))
def test_every_tab_gen_line_has_the_table_width(records: list[list[str]]) -> None:
    columns = parse_tab_gen(["1__7_B", "2__3_L", "3__4"], _position, 22)
    lines = tab_gen_lines(records, columns, Title.TITLE)
    assert {len(line) for line in lines} == {7 + 3 + 4 + 2}


# --- TAB_TCP --------------------------------------------------------------------------------

RECORD = {
    "PM": "host01.example.org",
    "TYPE": "QEMU",
    "LABEL": "a-rather-long-label-name",
    "ID": "/home/u/qemu/vm1/vm1.conf",
    "TCP": "10.0.0.5",
    "MAC": "52:54:00:12:34:56",
    "CSTYPE": "SERVER",
    "ACCELERATOR": "TCG",
    "UID": "alice",
    "GID": "staff",
}


def test_tab_tcp_as_the_originals_tab_tcp_awk() -> None:
    spec = TabTcp()
    assert header_lines(spec) == [
        "TCP-container     |TCP-guest        |IF      |label            |stype    |accel|c|"
        "user      |group     ",
        "------------------+-----------------+--------+-----------------+---------+-----+-+"
        "----------+----------",
    ]
    assert row_line(RECORD, spec) == (
        "host01.example.org|-                |-       |a-rather-long-lab|QEMU     |TCG  |S|"
        "alice     |staff     "
    )


def test_tab_tcp_guest_and_id_columns() -> None:
    with_tcp = TabTcp(guest=Guest.TCP, show_id=True)
    assert header_lines(with_tcp)[0].split("|")[3].strip() == "id"
    cells = row_line(RECORD, with_tcp).split("|")
    assert cells[1].strip() == "10.0.0.5"
    assert cells[3] == RECORD["ID"][-17:]  # the end of the path
    no_tcp = {**RECORD, "TCP": None}
    assert row_line(no_tcp, with_tcp).split("|")[1].strip() == "52:54:00:12:34:56"  # MAC instead
    assert row_line(RECORD, TabTcp(guest=Guest.MAC)).split("|")[1].strip() == "52:54:00:12:34:56"


def test_tab_tcp_widths_in_the_originals_order() -> None:
    # host, guest, label, stype, accel, c, user, group; the 16th is IF's.
    widths = parse_widths(["5", "", "4"] + [""] * 12 + ["2"])
    assert widths == (5, 17, 2, 4, 9, 5, 1, 10, 10)
    line = row_line(RECORD, TabTcp(widths=widths))
    assert line.split("|")[:4] == ["host0", "-" + " " * 16, "- ", "a-ra"]
    with pytest.raises(UsageError, match="TAB_TCP column sizes: 'x'"):
        parse_widths(["x"])


# --- the shared parse and writer ------------------------------------------------------------


def subs(*raws: str) -> list[Suboption]:
    out = []
    for raw in raws:
        key, _, arg = raw.partition(":")
        out.append(Suboption(key.upper(), tuple(arg.split("%")) if arg else (), raw))
    return out


def test_parse_output_takes_only_the_output_suboptions() -> None:
    req, rest = parse_output(
        "LIST", subs("LABEL", "TERSE", "TITLEIDXASC", "SORT:2", "BOTH"), OutputFormat.TABLE
    )
    assert (req.fmt, req.title, req.sort, req.layout) == (
        OutputFormat.TERSE,
        Title.TITLEIDXASC,
        SortSpec(key=2),
        Layout.PLAIN,
    )
    assert [s.key for s in rest] == ["LABEL", "BOTH"]
    machine, _ = parse_output("ENUMERATE", subs("MACHINE"), OutputFormat.TABLE)
    assert (machine.fmt, machine.machine) == (OutputFormat.TERSE, True)
    x_flag, _ = parse_output("LIST", [], OutputFormat.TABLE, terse_flag=True)
    assert x_flag.fmt is OutputFormat.TERSE  # -X
    tab, rest = parse_output("ENUMERATE", subs("TAB_TCP"), OutputFormat.TABLE)
    assert tab.layout is Layout.PLAIN and rest[0].key == "TAB_TCP"  # LIST only


@pytest.mark.parametrize(
    ("raws", "fmt", "message"),
    [
        (("TERSE", "JSON"), OutputFormat.TABLE, "exclude each other"),
        (("MACHINE",), OutputFormat.JSON, "conflicts with -o json"),
        (("TAB_GEN:3", "JSON"), OutputFormat.TABLE, "text table, not JSON"),
        (("TAB_GEN:3", "TAB_TCP"), OutputFormat.TABLE, "exclude each other"),
        (("TITLE:x",), OutputFormat.TABLE, "takes no value"),
        (("SORT:x",), OutputFormat.TABLE, "SORT key 'x'"),
        (("TAB_TCP:1%a",), OutputFormat.TABLE, "column sizes"),
    ],
)
def test_parse_output_errors(raws: tuple[str, ...], fmt: OutputFormat, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_output("LIST", subs(*raws), fmt, tab_tcp=True)


SHAPE = RecordShape(LIST_RECORD, lambda f: (list_field(f).title, list_field(f).position), _position)


def test_write_rows_terse_with_titles_sorted() -> None:
    rows = [{"LABEL": "b", "PID": 2}, {"LABEL": "a", "PID": 1}]
    req, _ = parse_output("LIST", subs("TERSE", "TITLEIDX", "SORT"), OutputFormat.TABLE)
    out = io.StringIO()
    write_rows(rows, ("LABEL", "PID"), req, SHAPE, out)
    assert out.getvalue().splitlines() == ["Label(3);PID(11)", "a;1", "b;2"]


def test_write_rows_tab_gen_uses_the_whole_record_and_escapes() -> None:
    rows = [{"LABEL": "x\x1b[31m", "PID": 7}]
    req, _ = parse_output("LIST", subs("TAB_GEN:3_L_12%11_P_3"), OutputFormat.TABLE)
    out = io.StringIO()
    write_rows(rows, (), req, SHAPE, out)
    assert out.getvalue().splitlines() == [
        "L           |P  ",
        "------------+---",
        "x\\x1b[31m   |7  ",
    ]
