"""inventory.query: ctys-vhost patterns and match rules over the store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctys.errors import AddressError, UsageError
from ctys.inventory.cachedb import record_line
from ctys.inventory.query import (
    FieldPattern,
    MatchRule,
    NotUniqueError,
    Query,
    WordPattern,
    parse_fields,
    parse_pattern,
    parse_query,
    parse_rule,
    reduce_records,
    where_clause,
)
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory

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


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("L:web1", FieldPattern("LABEL", "web1")),
        ("LABEL=web1", FieldPattern("LABEL", "web1")),
        ("label=a=b:c", FieldPattern("LABEL", "a=b:c")),
        ("M:52:54:00:aa:00:01", FieldPattern("MAC", "52:54:00:aa:00:01")),
        ("uuid=", FieldPattern("UUID", "")),
        ("52:54:00", WordPattern("52:54:00")),
        ("web", WordPattern("web")),
        ("/v/web1.conf", WordPattern("/v/web1.conf")),
        ("NOFIELD=x", WordPattern("NOFIELD=x")),
    ],
)
def test_parse_pattern(text: str, pattern: object) -> None:
    assert parse_pattern(text) == pattern


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


def test_words_match_the_line_case_insensitively(inv: Inventory) -> None:
    assert _labels(inv, "WEB") == ["web1@h1", "web1@h2"]
    assert _labels(inv, "linux", "centos") == ["db1@h1"]
    assert _labels(inv, "^h2;") == ["web1@h2"]  # a regex, anchored at the line start
    assert _labels(inv, "w[ie]") == ["web1@h1", "web1@h2", "win@h1"]
    assert _labels(inv, "debian|centos", "h1") == ["web1@h1", "db1@h1"]


def test_like_wildcards_in_plain_words_are_literal(inv: Inventory) -> None:
    assert _labels(inv, "100%_x") == ["win@h1"]
    assert _labels(inv, "0%") == ["win@h1"]
    assert _labels(inv, "1_0") == []


def test_invalid_regex_is_a_literal_substring(inv: Inventory) -> None:
    # Words see the plain enum.fdb line, like grep on the file.
    assert _labels(inv, "a;b 100") == ["win@h1"]
    assert _labels(inv, "a\\\\;b") == []
    assert _labels(inv, "web1.conf(") == []
    inv.add([InventoryRecord(host="h3", label="odd(", pname="/v/odd.conf")])
    assert _labels(inv, "odd(") == ["odd(@h3"]


def test_rules_first_last_complement(inv: Inventory) -> None:
    assert _labels(inv, "linux", rule="FIRST") == ["web1@h1"]
    assert _labels(inv, "linux", rule="LAST") == ["db1@h1"]
    assert _labels(inv, "linux", rule="COMPLEMENT") == ["win@h1"]
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
    with pytest.raises(NotUniqueError) as many:
        inv.query(parse_query(["linux"], MatchRule.UNIQUE, ("LABEL",)))
    assert many.value.candidates == ("web1", "db1")


def test_exact_field_patterns_use_an_index(inv: Inventory, tmp_path: Path) -> None:
    import sqlite3

    where, params = where_clause([parse_pattern("L:web1"), parse_pattern("linux")])
    db = sqlite3.connect(tmp_path / "q.sqlite")
    plan = db.execute(f"EXPLAIN QUERY PLAN SELECT * FROM records WHERE {where}", params)
    assert "USING INDEX records_label" in str(plan.fetchall())
    db.close()


def _reference(records: list[InventoryRecord], words: list[str]) -> list[InventoryRecord]:
    """What grep -i over the cacheDB lines would select (for plain ASCII words)."""
    return [r for r in records if all(w.lower() in record_line(r).lower() for w in words)]


_word = st.text(alphabet="abcWEB1;_%h-", min_size=0, max_size=4)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_word, max_size=3))
def test_plain_words_agree_with_grep_reference(inv: Inventory, words: list[str]) -> None:
    got = inv.query(Query(tuple(WordPattern(w) for w in words)))
    assert got == _reference(RECORDS, words)


def test_regex_words_agree_with_python_re(inv: Inventory) -> None:
    for pattern in ["^h1;qemu;w", "linux;$|windows", "10\\.0\\.0\\.[0-9]", "(?i)DEB"]:
        expected = [r for r in RECORDS if re.search(pattern, record_line(r), re.IGNORECASE)]
        assert inv.query(Query((WordPattern(pattern),))) == expected, pattern
