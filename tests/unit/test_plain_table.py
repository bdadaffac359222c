"""The plain (rich-free) table drawn off a terminal is exactly what rich draws there."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctys import tables
from ctys.invocation import OutputFormat
from ctys.plaintable import plain_table

_cell = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


def _drawn(rows: list[dict[str, str]], fields: list[str], title: bool) -> str:
    out = io.StringIO()
    tables.render(rows, fields, OutputFormat.TABLE, out, title=title)
    return out.getvalue()


def _drawn_by_rich(rows: list[dict[str, str]], fields: list[str], title: bool) -> str:
    plain = tables.plain_table
    tables.plain_table = lambda *args, **kwargs: None  # the rich path, forced
    try:
        return _drawn(rows, fields, title)
    finally:
        tables.plain_table = plain


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="ABCDEFGHIJ_", min_size=1, max_size=8), min_size=0, max_size=5),
    st.lists(st.lists(_cell, min_size=5, max_size=5), min_size=0, max_size=6),
    st.booleans(),
)
def test_plain_table_matches_rich(fields: list[str], raw: list[list[str]], title: bool) -> None:
    fields = list(dict.fromkeys(fields))
    rows = [dict(zip(fields, r, strict=False)) for r in raw]
    assert _drawn(rows, fields, title) == _drawn_by_rich(rows, fields, title)


def test_plain_table_is_what_rich_draws_off_a_terminal() -> None:
    rows = [{"LABEL": "vm1", "UUID": "u-1"}, {"LABEL": "longer-name", "UUID": ""}]
    assert _drawn(rows, ["LABEL", "UUID"], True) == (
        "LABEL        UUID\nvm1          u-1\nlonger-name\n"
    )


@pytest.mark.parametrize("cell", ["\u4e2d\u6587", "caf\u00e9"])
def test_non_ascii_cells_are_measured_by_rich(cell: str) -> None:
    assert plain_table([[cell, "x"]], ["A", "B"], title=True) is None
    assert _drawn([{"A": cell, "B": "x"}], ["A", "B"], True) == _drawn_by_rich(
        [{"A": cell, "B": "x"}], ["A", "B"], True
    )
