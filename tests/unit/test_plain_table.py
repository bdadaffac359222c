"""The plain (rich-free) table drawn off a terminal is exactly what rich draws there."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from ctys import tables
from ctys.invocation import OutputFormat

_cell = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


def _via_rich(rows: list[dict[str, str]], fields: list[str], title: bool) -> str:
    # The rich path, forced: a cell that is not ASCII sends the table there; strip it after.
    out = io.StringIO()
    marker = "\u00e9"
    marked = [*rows, dict.fromkeys(fields, marker)]
    tables.render(marked, fields, OutputFormat.TABLE, out, title=title)
    lines = out.getvalue().splitlines(keepends=True)
    return "".join(lines[:-1])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.text(alphabet="ABCDEFGHIJ_", min_size=1, max_size=8), min_size=1, max_size=5),
    st.lists(st.lists(_cell, min_size=5, max_size=5), min_size=1, max_size=6),
    st.booleans(),
)
def test_plain_table_matches_rich(fields: list[str], raw: list[list[str]], title: bool) -> None:
    fields = list(dict.fromkeys(fields))
    rows = [dict(zip(fields, r, strict=False)) for r in raw]
    # The marker row makes each column at least one cell wide in rich's drawing: widen ours too.
    rows = [*rows, dict.fromkeys(fields, "x")]
    out = io.StringIO()
    tables.render(rows, fields, OutputFormat.TABLE, out, title=title)
    assert out.getvalue() == _via_rich(rows, fields, title)


def test_non_ascii_cells_still_drawn_by_rich() -> None:
    out = io.StringIO()
    tables.render(
        [{"A": "\u4e2d\u6587", "B": "x"}], ["A", "B"], OutputFormat.TABLE, out, title=True
    )
    assert out.getvalue() == "A     B\n\u4e2d\u6587  x\n"
