"""``ctys-vhost`` queries over the inventory: an AND of patterns plus a match rule.

A pattern is either ``FIELD=value`` / ``FIELD:value`` (exact match of one field, by name or
alias; MAC and UUID without regard to case) or a bare word, matched like ``grep -i -E``
against the record's cacheDB line. Exact field patterns use the store's indexes; a plain
word (no regex characters) becomes an SQL ``LIKE``; only a real regex calls back into
Python, row by row.

Match rules (``-M``), applied to the matching records in inventory order:

- ``ALL``: every match; ``FIRST`` / ``LAST``: the first / last one.
- ``SORT``: every match, sorted by the key fields; ``USORT``: sorted, one per distinct key.
- ``UNIQUE``: the match must be unique by the key fields (multipath rows of one VM agree on
  its label, uuid, ...), else ``NotUniqueError`` listing the candidates.
- ``COMPLEMENT``: every record that does NOT match.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from ctys.errors import AddressError, UsageError
from ctys.inventory.record import FIELDS, InventoryRecord, canonical_field, is_field_name
from ctys.inventory.store import equals_clause

if TYPE_CHECKING:
    from ctys.inventory.store import Inventory

_REGEX_CHARS = frozenset(".^$*+?{}[]\\|()")
_FIELD_PATTERN = re.compile(r"([A-Za-z]+)[:=](.*)", re.DOTALL)
_MAX_CANDIDATES_SHOWN = 10


class MatchRule(Enum):
    """How the set of matching records is reduced (the original's ``-M``)."""

    ALL = "ALL"
    FIRST = "FIRST"
    LAST = "LAST"
    SORT = "SORT"
    USORT = "USORT"
    UNIQUE = "UNIQUE"
    COMPLEMENT = "COMPLEMENT"


@dataclass(frozen=True)
class FieldPattern:
    """``FIELD=value``: the field (canonical name) equals ``value``."""

    field: str
    value: str


@dataclass(frozen=True)
class WordPattern:
    """A bare word: case-insensitive regex (or substring) on the whole record line."""

    text: str


Pattern = FieldPattern | WordPattern


@dataclass(frozen=True)
class Query:
    """Patterns (all must match), the match rule, and the fields that SORT, USORT and
    UNIQUE compare (usually the output fields)."""

    patterns: tuple[Pattern, ...] = ()
    rule: MatchRule = MatchRule.ALL
    key_fields: tuple[str, ...] = FIELDS


class NotUniqueError(AddressError):
    """``UNIQUE`` was asked for and several different records match."""

    def __init__(self, candidates: Sequence[str]) -> None:
        self.candidates = tuple(candidates)
        shown = ", ".join(self.candidates[:_MAX_CANDIDATES_SHOWN])
        more = len(self.candidates) - _MAX_CANDIDATES_SHOWN
        tail = f" and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.candidates)} different records match: {shown}{tail}")


def parse_pattern(text: str) -> Pattern:
    """``L:vm1`` / ``LABEL=vm1`` → ``FieldPattern``; anything else → ``WordPattern``."""
    match = _FIELD_PATTERN.fullmatch(text)
    if match and is_field_name(match.group(1)):
        return FieldPattern(canonical_field(match.group(1)), match.group(2))
    return WordPattern(text)


def parse_rule(text: str) -> MatchRule:
    """``first`` → ``MatchRule.FIRST``; an unknown rule is a ``UsageError``."""
    try:
        return MatchRule(text.strip().upper())
    except ValueError:
        known = "|".join(r.value for r in MatchRule)
        raise UsageError(f"unknown match rule '{text}' (use {known})") from None


def parse_fields(spec: str) -> tuple[str, ...]:
    """``L,uuid,CPORT`` → ``("LABEL", "UUID", "VNCPORT")``."""
    names = [part for part in spec.split(",") if part.strip()]
    if not names:
        raise UsageError(f"empty field list '{spec}'")
    return tuple(canonical_field(name) for name in names)


def parse_query(
    words: Sequence[str],
    rule: MatchRule = MatchRule.ALL,
    key_fields: Sequence[str] = FIELDS,
) -> Query:
    """A query from command-line words (each one pattern)."""
    return Query(tuple(parse_pattern(w) for w in words), rule, tuple(key_fields))


def where_clause(patterns: Sequence[Pattern]) -> tuple[str, list[str]]:
    """SQL condition over the ``records`` table for all ``patterns`` (AND), with params."""
    clauses: list[str] = []
    params: list[str] = []
    for pattern in patterns:
        if isinstance(pattern, FieldPattern):
            clause, param = equals_clause(pattern.field, pattern.value)
        elif pattern.text.isascii() and not _REGEX_CHARS.intersection(pattern.text):
            # LIKE folds ASCII case only, hence the isascii() guard.
            clause, param = "line LIKE ? ESCAPE '\\'", f"%{_like_escape(pattern.text)}%"
        else:
            clause, param = "ctys_match(?, line)", pattern.text
        clauses.append(clause)
        params.append(param)
    return " AND ".join(clauses) or "1", params


def run_query(inventory: Inventory, query: Query) -> list[InventoryRecord]:
    """The records of ``inventory`` selected by ``query``."""
    where, params = where_clause(query.patterns)
    rule = query.rule
    if rule is MatchRule.COMPLEMENT:
        return inventory.select(f"NOT ({where})", params)
    if rule is MatchRule.FIRST:
        return inventory.select(where, params, limit=1)
    if rule is MatchRule.LAST:
        return inventory.select(where, params, order="id DESC", limit=1)
    records = inventory.select(where, params)
    return reduce_records(records, rule, query.key_fields)


def reduce_records(
    records: Sequence[InventoryRecord], rule: MatchRule, key_fields: Sequence[str] = FIELDS
) -> list[InventoryRecord]:
    """Apply ``rule`` to ``records`` already in inventory order. ``COMPLEMENT`` needs the
    whole inventory and is done by ``run_query``; here it keeps ``records`` unchanged."""
    if rule is MatchRule.FIRST:
        return list(records[:1])
    if rule is MatchRule.LAST:
        return list(records[-1:])
    if rule in (MatchRule.ALL, MatchRule.COMPLEMENT):
        return list(records)

    def key(record: InventoryRecord) -> tuple[str, ...]:
        return tuple(record.get(name) for name in key_fields)

    if rule is MatchRule.SORT:
        return sorted(records, key=key)
    distinct: dict[tuple[str, ...], InventoryRecord] = {}
    for record in records:
        distinct.setdefault(key(record), record)
    if rule is MatchRule.USORT:
        return [distinct[k] for k in sorted(distinct)]
    # UNIQUE
    if len(distinct) > 1:
        raise NotUniqueError([";".join(k) for k in distinct])
    return list(distinct.values())


def register_functions(db: sqlite3.Connection) -> None:
    """Make ``ctys_match(pattern, line)`` available to SQL on ``db``."""
    db.create_function("ctys_match", 2, _sql_match, deterministic=True)


def _sql_match(pattern: str, line: str) -> int:
    return 1 if _compile_word(pattern).search(line) else 0


@functools.lru_cache(maxsize=64)
def _compile_word(text: str) -> re.Pattern[str]:
    """A bare word as a case-insensitive regex; not a valid regex → a literal substring."""
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error:
        return re.compile(re.escape(text), re.IGNORECASE)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
