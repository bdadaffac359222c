"""inventory.query: ctys-vhost patterns and match rules over the store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctys.errors import AddressError, ExitStatus, UsageError
from ctys.inventory.cachedb import record_line
from ctys.inventory.query import (
    MatchRule,
    NotUniqueError,
    Query,
    field_position,
    parse_fields,
    parse_query,
    parse_rule,
    parse_words,
    reduce_records,
    where_clause,
)
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory
from ctys.inventory.vhostquery import FieldEqualsTerm, RegexTerm

RECORDS = [
    InventoryRecord(
        host="h1",
        label="web1",
        pname="/v/web1.conf",
        uuid="AA-1",
        mac="52:54:00:AA:00:01",
        dist="debian",
        os="Linux",
    ),
    InventoryRecord(
        host="h2",
        label="web1",
        pname="/v/web1.conf",
        uuid="AA-1",
        mac="52:54:00:AA:00:01",
        dist="debian",
        os="Linux",
    ),
    InventoryRecord(
        host="h1",
        label="db1",
        pname="/v/db1.conf",
        uuid="BB-2",
        tcp="10.0.0.2",
        dist="centos",
        os="Linux",
    ),
    InventoryRecord(
        host="h1", label="win", pname="/v/win.conf", dist="", os="Windows", userstring="a;b 100%_x"
    ),
]


@pytest.fixture
def inv(tmp_path: Path) -> Iterator[Inventory]:
    with Inventory.open(tmp_path / "q.sqlite") as inventory:
        inventory.add(RECORDS)
        yield inventory


def _labels(inv: Inventory, *words: str, rule: str = "ALL", keys: str = "") -> list[str]:
    key_fields = parse_fields(keys) if keys else None
    query = (
        parse_query(words, parse_rule(rule), key_fields)
        if key_fields
        else parse_query(words, parse_rule(rule))
    )
    return [f"{r.label}@{r.host}" for r in inv.query(query)]


def _position(name: str) -> int:
    position = field_position(name)
    assert position is not None
    return position


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("L:web1", FieldEqualsTerm(_position("LABEL"), "web1")),
        ("LABEL=web1", FieldEqualsTerm(_position("LABEL"), "web1")),
        ("label=a=b:c", FieldEqualsTerm(_position("LABEL"), "a=b:c")),
        ("M:52:54:00:aa:00:01", FieldEqualsTerm(_position("MAC"), "52:54:00:aa:00:01", True)),
        ("uuid=", FieldEqualsTerm(_position("UUID"), "", True)),
        ("52:54:00", RegexTerm("52:54:00")),
        ("web", RegexTerm("web")),
        ("/v/web1.conf", RegexTerm("/v/web1.conf")),
        ("NOFIELD=x", RegexTerm("NOFIELD=x")),
    ],
)
def test_parse_words(text: str, term: object) -> None:
    assert parse_words([text]).steps[0].term == term


def test_parse_rule_and_fields() -> None:
    assert parse_rule("first") is MatchRule.FIRST
    with pytest.raises(UsageError, match="unknown match rule 'BEST'"):
        parse_rule("BEST")
    assert parse_fields("L,uuid,CPORT") == ("LABEL", "UUID", "VNCPORT")
    with pytest.raises(UsageError):
        parse_fields(",")
    with pytest.raises(UsageError, match="unknown field"):
        parse_fields("L,NOPE")


def test_field_patterns_are_exact_and_anded(inv: Inventory) -> None:
    assert _labels(inv, "L:web1") == ["web1@h1", "web1@h2"]
    assert _labels(inv, "L:web1", "H:h2") == ["web1@h2"]
    assert _labels(inv, "L:web") == []
    assert _labels(inv, "M=52:54:00:aa:00:01", "U:aa-1") == ["web1@h1", "web1@h2"]
    assert _labels(inv, "dist=") == ["win@h1"]
    assert _labels(inv, "T:10.0.0.2") == ["db1@h1"]


def test_words_match_the_line_case_sensitively(inv: Inventory) -> None:
    # The original: "the search-and-match strings are case sensitive".
    assert _labels(inv, "web") == ["web1@h1", "web1@h2"]
    assert _labels(inv, "WEB") == []
    assert _labels(inv, "Linux", "centos") == ["db1@h1"]
    assert _labels(inv, "^h2;") == ["web1@h2"]  # a regex, anchored at the line start
    assert _labels(inv, "w[ie]") == ["web1@h1", "web1@h2", "win@h1"]
    assert _labels(inv, "debian|centos", "h1") == ["web1@h1", "db1@h1"]
    assert _labels(inv, "centos", "OR", "Windows") == ["db1@h1", "win@h1"]
    assert _labels(inv, "Linux", "AND", "NOT", "debian") == ["db1@h1"]


def test_like_wildcards_in_plain_words_are_literal(inv: Inventory) -> None:
    assert _labels(inv, "100%_x") == ["win@h1"]
    assert _labels(inv, "0%") == ["win@h1"]
    assert _labels(inv, "1_0") == []


def test_an_invalid_regex_is_a_usage_error(inv: Inventory) -> None:
    # Words see the plain enum.fdb line, like grep on the file.
    assert _labels(inv, "a;b 100") == ["win@h1"]
    assert _labels(inv, "a\\\\;b") == []
    with pytest.raises(UsageError, match=r"'web1.conf\(' is not a regular expression"):
        _labels(inv, "web1.conf(")
    inv.add([InventoryRecord(host="h3", label="odd(", pname="/v/odd.conf")])
    assert _labels(inv, "odd\\(") == ["odd(@h3"]


def test_rules_first_last_complement(inv: Inventory) -> None:
    assert _labels(inv, "Linux", rule="FIRST") == ["web1@h1"]
    assert _labels(inv, "Linux", rule="LAST") == ["db1@h1"]
    assert _labels(inv, "Linux", rule="COMPLEMENT") == ["win@h1"]
    assert _labels(inv, "L:web1", "H:h1", rule="COMPLEMENT") == ["web1@h2", "db1@h1", "win@h1"]
    assert _labels(inv, "nothing-matches", rule="FIRST") == []


def test_rules_sort_usort_unique(inv: Inventory) -> None:
    assert _labels(inv, rule="SORT", keys="L") == ["db1@h1", "web1@h1", "web1@h2", "win@h1"]
    assert _labels(inv, rule="USORT", keys="L") == ["db1@h1", "web1@h1", "win@h1"]
    # Multipath rows of one VM agree on label and uuid: unique.
    assert _labels(inv, "web", rule="UNIQUE", keys="L,UUID") == ["web1@h1"]
    assert _labels(inv, "nothing-matches", rule="UNIQUE") == []
    with pytest.raises(NotUniqueError, match="2 different records match: web1;h1, web1;h2") as exc:
        reduce_records(RECORDS[:2], MatchRule.UNIQUE, ["LABEL", "HOST"])
    assert isinstance(exc.value, AddressError)
    assert exc.value.exit_code == ExitStatus.AMBIGUOUS == 11
    with pytest.raises(NotUniqueError) as many:
        inv.query(parse_query(["Linux"], MatchRule.UNIQUE, ("LABEL",)))
    assert many.value.candidates == ("web1", "db1")


def test_exact_field_patterns_use_an_index(inv: Inventory, tmp_path: Path) -> None:
    import sqlite3

    where, params = where_clause(parse_words(["L:web1", "Linux", "OR", "F:3:^db1$"]))
    db = sqlite3.connect(tmp_path / "q.sqlite")
    plan = db.execute(f"EXPLAIN QUERY PLAN SELECT * FROM records WHERE {where}", params)
    assert "records_label" in str(plan.fetchall())
    where, params = where_clause(parse_words(["F:3:^db1$"]))
    plan = db.execute(f"EXPLAIN QUERY PLAN SELECT * FROM records WHERE {where}", params)
    assert "USING INDEX records_label" in str(plan.fetchall())
    db.close()


def _reference(records: list[InventoryRecord], words: list[str]) -> list[InventoryRecord]:
    """What grep over the cacheDB lines would select (for plain ASCII words)."""
    return [r for r in records if all(w in record_line(r) for w in words)]


_word = st.text(alphabet="abcWEB1;_%h-", min_size=0, max_size=4)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_word, max_size=3))
def test_plain_words_agree_with_grep_reference(inv: Inventory, words: list[str]) -> None:
    got = inv.query(Query(parse_words(words)))
    assert got == _reference(RECORDS, words)


def test_regex_words_agree_with_python_re(inv: Inventory) -> None:
    for pattern in ["^h1;;w", "Linux;|Windows", "10\\.0\\.0\\.[0-9]", "(?i)DEB", "[[:upper:]]{2}-"]:
        python = pattern.replace("[[:upper:]]", "[A-Z]")
        expected = [r for r in RECORDS if re.search(python, record_line(r))]
        assert inv.query(Query(parse_words([pattern]))) == expected, pattern


def test_field_compare_and_record_index_terms(inv: Inventory) -> None:
    label, pname = _position("LABEL"), _position("PNAME")
    inv.add([InventoryRecord(host="h3", label="moved", pname="/v/old.conf")])
    assert _labels(inv, "R:3") == ["db1@h1"]
    assert _labels(inv, "R:2:3", "OR", "R:5") == ["web1@h2", "db1@h1", "moved@h3"]
    assert _labels(inv, "R:1", rule="COMPLEMENT") == ["web1@h2", "db1@h1", "win@h1", "moved@h3"]
    assert _labels(inv, "R:1", rule="LAST") == ["web1@h1"]
    assert _labels(inv, f"F:{label}:^w") == ["web1@h1", "web1@h2", "win@h1"]
    assert _labels(inv, f"F:{label}:^web1$") == ["web1@h1", "web1@h2"]
    # E:<n>:<m>: the conf path holds the label, except for the VM relabelled since.
    assert _labels(inv, "NOT", f"E:{pname}:{label}") == ["moved@h3"]
    with pytest.raises(UsageError, match="no field 99"):
        _labels(inv, "F:99:x")


def test_rules_as_a_comma_list_with_complement(inv: Inventory) -> None:
    from ctys.inventory.query import parse_rules

    assert parse_rules("first") == (MatchRule.FIRST, False)
    assert parse_rules("FIRST,COMPLEMENT") == (MatchRule.FIRST, True)
    assert parse_rules("complement") == (MatchRule.ALL, True)
    with pytest.raises(UsageError, match="exclude each other"):
        parse_rules("FIRST,LAST")
    with pytest.raises(UsageError, match="unknown match rule 'BEST'"):
        parse_rules("FIRST,BEST")
    query = Query(parse_words(["Linux"]), MatchRule.LAST, complement=True)
    assert [r.label for r in inv.query(query)] == ["win"]
    query = Query(parse_words(["web"]), MatchRule.USORT, ("LABEL",), complement=True)
    assert [r.label for r in inv.query(query)] == ["db1", "win"]
