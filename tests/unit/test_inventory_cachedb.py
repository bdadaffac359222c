"""inventory.cachedb: the ;-separated ASCII format, escaping, round trip, fuzz."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctys.errors import CtysError
from ctys.inventory.cachedb import HEADER, export_cachedb, import_cachedb, record_line
from ctys.inventory.record import FIELDS, InventoryRecord


def _export(records: list[InventoryRecord]) -> str:
    out = io.StringIO()
    assert export_cachedb(records, out) == len(records)
    return out.getvalue()


def test_line_is_fields_in_order_separated_by_semicolons() -> None:
    record = InventoryRecord(host="h1", stype="QEMU", label="vm1", pname="/v/vm1.conf", uuid="U")
    line = record_line(record)
    assert line.split(";") == list(record.values())
    assert line.startswith("h1;QEMU;vm1;/v/vm1.conf;U;")
    assert line.count(";") == len(FIELDS) - 1


def test_export_writes_header_comment_then_one_line_per_record() -> None:
    text = _export([InventoryRecord(label="a"), InventoryRecord(label="b")])
    lines = text.split("\n")
    assert lines[0] + "\n" == HEADER and lines[0].startswith("#")
    assert len(lines) == 4 and lines[-1] == ""


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a;b", "a\\;b"),
        ("a\\b", "a\\\\b"),
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("\\;", "\\\\\\;"),
        # Control and other non-printable characters: one line of plain text, never a
        # terminal command, and the same through ctys-vhost's escaping stdout.
        ("a\tb", "a\\tb"),
        ("evil\x1b]0\x07", "evil\\x1b]0\\x07"),
        ("csi\x9b2J\x7f", "csi\\x9b2J\\x7f"),
        ("bidi\u202e", "bidi\\u202e"),
        ("\\x1b", "\\\\x1b"),  # a literal backslash-x stays distinguishable
    ],
)
def test_special_characters_are_escaped(value: str, escaped: str) -> None:
    line = record_line(InventoryRecord(label=value))
    assert line.startswith(f";;{escaped};")  # no host, no session type
    assert import_cachedb(line, "x") == [InventoryRecord(label=value)]


def test_leading_hash_is_escaped_so_the_record_is_not_a_comment() -> None:
    record = InventoryRecord(host="#not-a-comment")
    line = record_line(record)
    assert line.startswith("\\#")
    assert import_cachedb(line + "\n", "x") == [record]


def test_comments_blank_lines_and_crlf_are_handled() -> None:
    text = "# comment\n\nh1;QEMU;vm1\r\n  # not a comment: a host named '  # ...'\n"
    records = import_cachedb(text, "db")
    assert [r.label for r in records] == ["vm1", ""]
    assert records[0].host == "h1" and records[0].pname == ""
    assert records[1].host == "  # not a comment: a host named '  # ...'"


def test_short_lines_are_padded() -> None:
    (record,) = import_cachedb("h1;QEMU;vm1;/p.conf", "db")
    assert record == InventoryRecord(host="h1", stype="QEMU", label="vm1", pname="/p.conf")
    (empty_stype,) = import_cachedb("h1", "db")
    assert empty_stype.stype == ""


def test_too_many_fields_is_an_error_with_source_and_line() -> None:
    line = ";".join(["x"] * (len(FIELDS) + 1))
    with pytest.raises(
        CtysError, match=rf"^db\.txt:3: {len(FIELDS) + 1} fields, at most {len(FIELDS)}"
    ):
        import_cachedb("# c\n\n" + line, "db.txt")


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("a\\qb", "unknown escape"),
        ("a\\x1", "unknown escape"),
        ("a\\ud800", "not a character"),
        ("a\\U00110000", "not a character"),
        ("ab\\", "lone"),
    ],
)
def test_bad_escapes_are_errors_with_line(line: str, what: str) -> None:
    with pytest.raises(CtysError, match=rf"^src:2: .*{what}"):
        import_cachedb("h;QEMU;ok\n" + line, "src")


_text = st.text()  # any unicode but lone surrogates (which no text file can hold)
_any_value = st.one_of(
    _text, st.sampled_from(["", ";", "\\", "\n", "\r", "#", "\\;", "\\n", "\x1b", "\\x1b", "\t"])
)
_records = st.builds(InventoryRecord, *([_any_value] * len(FIELDS)))


@settings(max_examples=300)
@given(st.lists(_records, max_size=5))
def test_round_trip_is_exact(records: list[InventoryRecord]) -> None:
    text = _export(records)
    assert all(char == "\n" or char.isprintable() for char in text)  # safe on a terminal
    back = import_cachedb(text, "prop")
    assert back == records
    assert _export(back) == text


@settings(max_examples=500)
@given(st.text())
def test_import_of_arbitrary_text_returns_records_or_raises_ctys_error(text: str) -> None:
    try:
        records = import_cachedb(text, "fuzz")
    except CtysError as err:
        assert str(err).startswith("fuzz:")
        return
    for record in records:
        assert len(record.values()) == len(FIELDS)
        assert all(isinstance(v, str) for v in record.values())


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "a",
                ";",
                "\\",
                "n",
                "#",
                "\r",
                "\n",
                "\\;",
                "\\n",
                "é",
                "\\x",
                "\\u",
                "\\U",
                "d8",
                "0",
            ]
        )
    )
)
def test_import_of_escape_heavy_text_round_trips_or_names_the_line(parts: list[str]) -> None:
    text = "".join(parts)
    try:
        records = import_cachedb(text, "fuzz")
    except CtysError as err:
        # One line saying where: "fuzz:<line>: ...", the line being one of the text's.
        source, line, _ = str(err).split(":", 2)
        assert source == "fuzz" and 1 <= int(line) <= text.count("\n") + 1
        assert "\n" not in str(err)
        return
    # What was read is written back and read again to the same records, exactly.
    exported = _export(records)
    assert import_cachedb(exported, "again") == records
    assert _export(import_cachedb(exported, "again")) == exported
