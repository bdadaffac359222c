"""inventory.vhostquery: the original ctys-vhost query language (parse, evaluate, SQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctys.errors import UsageError
from ctys.inventory.vhostquery import (
    FieldCompareTerm,
    FieldEqualsTerm,
    FieldRegexTerm,
    IndexTerm,
    Op,
    RegexTerm,
    SqlColumns,
    Step,
    VhostQuery,
    matches,
    parse,
    parse_term,
    sql_field_regex,
    sql_regex,
    to_sql,
)

# Records as field tuples (position 1 = PM, 2 = TYPE, 3 = LABEL, 4 = ID, 5 = UUID).
ROWS: list[tuple[str, ...]] = [
    ("lab01", "QEMU", "tst001", "/v/tst001.conf", "AA-1"),
    ("lab01", "PM", "lab01", "", ""),
    ("lab02", "QEMU", "tst002", "/v/tst002.conf", "BB-2"),
    ("lab02", "VMW", "tst103", "/v/tst103.vmx", "cc-3"),
    ("lab02.soho.", "PM", "lab02", "", ""),
    ("lab03", "XEN", "web1", "/x/web1", "DD-4"),
]
NAMES = {"PM": 1, "HOST": 1, "TYPE": 2, "LABEL": 3, "L": 3, "ID": 4, "UUID": 5, "U": 5}


def resolve(name: str) -> tuple[int, bool] | None:
    position = NAMES.get(name.upper())
    return None if position is None else (position, position == 5)


def line(row: Sequence[str]) -> str:
    return ";".join(row)


def run(words: Sequence[str]) -> list[str]:
    query = parse(words, resolve, 5)
    return [r[2] for i, r in enumerate(ROWS, 1) if matches(query, r, line(r), i)]


def run_sql(words: Sequence[str]) -> list[str]:
    return sql_labels(parse(words, resolve, 5))


def sql_labels(query: VhostQuery) -> list[str]:
    db = sqlite3.connect(":memory:")
    db.create_function("ctys_re", 2, sql_regex)
    db.create_function("ctys_fre", 2, sql_field_regex)
    db.execute("CREATE TABLE t (idx INTEGER, f1, f2, f3, f4, f5, line)")
    db.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i, *r, line(r)) for i, r in enumerate(ROWS, 1)],
    )
    columns = SqlColumns({n: f"f{n}" for n in range(1, 6)}, caseless=frozenset({"f5"}))
    where, params = to_sql(query, columns)
    rows = db.execute(f"SELECT f3 FROM t WHERE {where} ORDER BY idx", params)
    return [row[0] for row in rows]


def reference(query: VhostQuery) -> list[str]:
    """The original's loop, literally: AND filters the result and remembers it before;
    OR adds what of the remembered result matches. Sets, in inventory order."""
    from ctys.inventory.vhostquery import term_matches

    everything = list(range(len(ROWS)))
    result, before = everything, everything
    for number, step in enumerate(query.steps):

        def hit(i: int, step: Step = step) -> bool:
            r = ROWS[i]
            return term_matches(step.term, r, line(r), i + 1) != step.negated

        if step.op is Op.OR and number > 0:
            result = sorted(set(result) | {i for i in before if hit(i)})
        else:
            before = result
            result = [i for i in result if hit(i)]
    return [ROWS[i][2] for i in result]


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "term"),
    [
        ("tst00", RegexTerm("tst00")),
        ("F:2:PM", FieldRegexTerm(2, "PM")),
        ("f:4:/v/a:b", FieldRegexTerm(4, "/v/a:b")),
        ("F:3:", FieldRegexTerm(3, "")),
        ("E:1:3", FieldCompareTerm(1, 3)),
        ("R:3", IndexTerm(3, 3)),
        ("r:2:4", IndexTerm(2, 4)),
        ("L:web1", FieldEqualsTerm(3, "web1")),
        ("uuid=aa-1", FieldEqualsTerm(5, "aa-1", True)),
        ("NOFIELD=x", RegexTerm("NOFIELD=x")),
        ("[[:digit:]]{3}", RegexTerm("[[:digit:]]{3}")),
    ],
)
def test_parse_term(word: str, term: object) -> None:
    assert parse_term(word, resolve, 5) == term


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["AND", "x"], "starts with 'AND'"),
        (["or", "x"], "starts with 'or'"),
        (["x", "AND"], "ends in 'AND'"),
        (["x", "NOT"], "ends in 'NOT'"),
        (["x", "AND", "OR", "y"], "must be followed by a term"),
        (["x", "NOT", "AND", "y"], "must be followed by a term"),
        (["F:3"], "F:<field number>:<regex>"),
        (["F:x:3"], "F:<field number>:<regex>"),
        (["F:9:x"], "no field 9 (fields are numbered 1..5)"),
        (["F:0:x"], "no field 0"),
        (["E:1"], "E:<field number>:<field number>"),
        (["E:1:6"], "no field 6"),
        (["R:"], "R:<index>"),
        (["R:0"], "start at 1"),
        (["R:4:2"], "must not be empty"),
        (["web("], "not a regular expression"),
        (["F:3:a[b"], "not a regular expression"),
        (["[[:nope:]]"], "unknown character class"),
    ],
)
def test_malformed_queries_are_usage_errors(words: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(words, resolve, 5)


def test_too_many_words_are_refused() -> None:
    with pytest.raises(UsageError, match="at most"):
        parse(["x"] * 201)


def test_operators_are_case_insensitive_and_space_is_and() -> None:
    spaced = parse(["a", "b"])
    assert parse(["a", "and", "b"]) == parse(["a", "AND", "b"]) == spaced
    assert parse(["a", "Or", "b"]).steps[1] == Step(Op.OR, False, RegexTerm("b"))
    assert parse(["not", "a"]).steps == (Step(Op.AND, True, RegexTerm("a")),)
    assert parse(["NOT", "NOT", "a"]).steps == (Step(Op.AND, False, RegexTerm("a")),)


def test_groups_are_a_conjunction_of_or_groups() -> None:
    query = parse(["x", "AND", "a", "OR", "b", "OR", "c", "AND", "y"])
    assert [[s.term for s in g] for g in query.groups] == [
        [RegexTerm("x")],
        [RegexTerm("a"), RegexTerm("b"), RegexTerm("c")],
        [RegexTerm("y")],
    ]


# -- evaluation ------------------------------------------------------------------------


def test_no_terms_is_everything() -> None:
    assert run([]) == [r[2] for r in ROWS]


def test_regex_on_the_whole_line_is_case_sensitive() -> None:
    assert run(["tst00"]) == ["tst001", "tst002"]
    assert run(["TST00"]) == []
    assert run(["^lab02"]) == ["tst002", "tst103", "lab02"]
    assert run(["xen|VMW"]) == ["tst103"]
    assert run(["[[:digit:]]{3}$"]) == []
    assert run(["-[[:digit:]]$"]) == ["tst001", "tst002", "tst103", "web1"]


def test_a_leading_star_is_literal_as_in_awk() -> None:
    assert run(["*x"]) == []


def test_field_regex_matches_one_field_only() -> None:
    assert run(["F:2:PM"]) == ["lab01", "lab02"]
    assert run(["F:3:lab"]) == ["lab01", "lab02"]  # not the records whose PM is lab0x
    assert run(["F:2:pm"]) == []  # literally: 'pm' is not 'PM'
    assert run(["F:3:^tst00[12]$"]) == ["tst001", "tst002"]


def test_field_compare() -> None:
    # The PM records: their LABEL is (a prefix of) their PM name.
    assert run(["E:1:3"]) == ["lab01", "lab02"]
    assert run(["E:3:1"]) == ["lab01"]  # "lab02" does not contain "lab02.soho."


def test_record_index_and_range() -> None:
    assert run(["R:2"]) == ["lab01"]
    assert run(["R:2:4"]) == ["lab01", "tst002", "tst103"]
    assert run(["R:99"]) == []
    assert run(["NOT", "R:1:5"]) == ["web1"]


def test_field_equals_is_exact_and_caseless_for_uuid() -> None:
    assert run(["L:tst00"]) == []
    assert run(["L:tst001"]) == ["tst001"]
    assert run(["U:cc-3"]) == run(["U:CC-3"]) == ["tst103"]


def test_the_originals_examples() -> None:
    # ctys-vhost(1): both calls select the tst00 records that are not PMs.
    first = ["tst00", "and", "not", "f:2:PM", "and", "tst103", "or", "tst00", "or", "tst00"]
    second = ["not", "f:2:PM", "and", "tst103", "or", "tst00", "or", "tst00", "and", "tst00"]
    assert run(first) == run(second) == ["tst001", "tst002"]
    # x AND a OR b OR c == a OR b OR c AND x == x AND a OR x AND b OR x AND c
    x_first = run(["lab02", "AND", "QEMU", "OR", "VMW", "OR", "PM"])
    assert x_first == run(["QEMU", "OR", "VMW", "OR", "PM", "AND", "lab02"])
    assert x_first == ["tst002", "tst103", "lab02"]


def test_or_lists_a_record_once_in_inventory_order() -> None:
    assert run(["web1", "OR", "tst001", "OR", "tst001"]) == ["tst001", "web1"]


def test_not_negates_the_next_term_only() -> None:
    assert run(["NOT", "QEMU", "AND", "lab02"]) == ["tst103", "lab02"]
    assert run(["lab02", "NOT", "QEMU"]) == ["tst103", "lab02"]
    assert run(["QEMU", "OR", "NOT", "^lab0[12]"]) == ["tst001", "tst002", "web1"]


# -- SQL -------------------------------------------------------------------------------


def test_exact_terms_become_equalities() -> None:
    columns = SqlColumns({3: "label"})
    assert to_sql(parse(["L:web1"], resolve), columns) == ("label = ?", ["web1"])
    assert to_sql(parse(["F:3:^web1$"]), columns) == ("label = ?", ["web1"])
    assert to_sql(parse(["F:3:web"]), columns) == ("label GLOB ?", ["*web*"])
    assert to_sql(parse(["F:3:w.b"]), columns) == (
        "(label GLOB ? AND ctys_re(?, label))",
        ["*w*", "w.b"],
    )
    assert to_sql(parse(["F:3:.+"]), columns) == ("ctys_re(?, label)", [".+"])
    assert to_sql(parse([]), columns) == ("1", [])


def test_sql_groups_and_negation() -> None:
    where, params = to_sql(parse(["a", "OR", "NOT", "b", "c"]), SqlColumns({}))
    assert where == "(line GLOB ? OR NOT (line GLOB ?)) AND line GLOB ?"
    assert params == ["*a*", "*b*", "*c*"]


def test_fields_the_store_lacks_are_empty() -> None:
    columns = SqlColumns({3: "label"})
    assert to_sql(parse(["F:9:x"]), columns) == ("0", [])
    assert to_sql(parse(["F:9:^$"]), columns) == ("1", [])
    assert to_sql(parse(["E:9:3"]), columns) == ("ctys_fre(label, '')", [])


@pytest.mark.parametrize(
    "words",
    [
        ["tst00", "and", "not", "f:2:PM", "and", "tst103", "or", "tst00"],
        ["E:1:3", "OR", "R:6"],
        ["U:cc-3", "OR", "L:web1"],
        ["F:3:^tst001$", "OR", "NOT", "F:2:QEMU"],
    ],
)
def test_sql_agrees_with_evaluation(words: list[str]) -> None:
    assert run_sql(words) == run(words)


# -- properties ------------------------------------------------------------------------

_TERMS = st.sampled_from(
    [
        "tst",
        "tst00",
        "lab02",
        "QEMU",
        "PM",
        "^lab",
        "1$",
        "xen|VMW",
        "F:2:PM",
        "F:3:^lab",
        "F:5:^$",
        "E:1:3",
        "R:2",
        "R:3:5",
        "L:web1",
        "U:AA-1",
        "nothing",
    ]
)


@st.composite
def _queries(draw: st.DrawFn) -> list[str]:
    words = [draw(_TERMS)]
    for _ in range(draw(st.integers(0, 6))):
        words.append(draw(st.sampled_from(["AND", "OR", "and", "or"])))
        words.extend(["NOT"] * draw(st.integers(0, 2)))
        words.append(draw(_TERMS))
    return words


@settings(max_examples=300, deadline=None)
@given(_queries())
def test_evaluation_and_sql_match_the_left_to_right_reference(words: list[str]) -> None:
    query = parse(words, resolve, 5)
    expected = reference(query)
    assert run(words) == expected
    assert sql_labels(query) == expected


@settings(max_examples=200, deadline=None)
@given(_queries())
def test_not_not_is_identity(words: list[str]) -> None:
    doubled = ["NOT", "NOT", *words]
    assert run(doubled) == run(words)


@settings(max_examples=200, deadline=None)
@given(_queries(), _queries())
def test_and_of_two_queries_is_the_intersection_when_b_has_no_or(
    a: list[str], b: list[str]
) -> None:
    cleaned = ["AND" if w.upper() == "OR" else w for w in b]
    both = run([*a, "AND", *cleaned])
    assert both == [label for label in run(a) if label in run(cleaned)]


# -- the literal a regex needs (a GLOB before the Python call) -------------------------


@pytest.mark.parametrize(
    ("pattern", "needed"),
    [
        ("vm0543[0-9]1;", "vm0543"),
        ("^lab02;", "lab02;"),
        ("ab+c", "ab"),
        ("abc?d", "ab"),
        ("abc*", "ab"),
        ("ab{0,2}cd", "cd"),
        ("x(abc)?yz", "yz"),
        ("a|b", ""),
        ("[[:digit:]]{3}-x", "-x"),
        ("a\\.conf", "a.conf"),
        ("a\\*b", "a"),
        ("(?i)DEB", ""),
        ("\\d+", ""),
        (".*", ""),
    ],
)
def test_required_literal(pattern: str, needed: str) -> None:
    from ctys.inventory.vhostquery import required_literal

    assert required_literal(pattern) == needed


_RE_PIECES = st.sampled_from(
    ["a", "b", "c", ";", ".", "a?", "b*", "c+", "[ab]", "(ab)?", "x{0,2}", "\\.", "^", "$", "|"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_RE_PIECES, min_size=1, max_size=6), st.text(alphabet="abcx;.", max_size=12))
def test_every_match_contains_the_required_literal(pieces: list[str], text: str) -> None:
    from ctys.inventory.vhostquery import compile_ere, required_literal

    pattern = "".join(pieces)
    try:
        compiled = compile_ere(pattern)
    except UsageError:
        return
    if compiled.search(text):
        assert required_literal(pattern) in text
