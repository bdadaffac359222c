"""``ctys-vhost`` queries over the inventory: the original's query language
(``ctys.inventory.vhostquery``: regexes, ``F:``/``E:``/``R:`` terms, AND/OR/NOT left to
right) plus a match rule.

The whole query becomes one SQL condition. Exact field terms (``L:web1``, ``LABEL=web1``,
an anchored literal ``F:3:^web1$``) use the store's indexes; a plain word (no regex
characters) is an SQL ``GLOB`` (case-sensitive, like awk); only a real regex calls back
into Python, row by row. Words match the record's line as the store keeps it (its
``enum.fdb`` line), fields by their position in the original's record
(``ctys.inventory.fields``).

Match rules (``-M``), applied to the matching records in inventory order:

- ``ALL``: every match; ``FIRST`` / ``LAST``: the first / last one.
- ``SORT``: every match, sorted by the key fields; ``USORT``: sorted, one per distinct key.
- ``UNIQUE``: the match must be unique by the key fields (multipath rows of one VM agree on
  its label, uuid, ...), else ``NotUniqueError`` (exit 11) listing the candidates.
- ``COMPLEMENT``: every record that does NOT match.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from ctys.errors import AddressError, ExitStatus, UsageError
from ctys.inventory import vhostquery
from ctys.inventory.fields import FIELD_TABLE, FULL_WIDTH
from ctys.inventory.record import FIELDS, InventoryRecord, canonical_field, is_field_name
from ctys.inventory.store import CASELESS_COLUMNS
from ctys.inventory.vhostquery import FieldEqualsTerm, Op, SqlColumns, Step, VhostQuery

if TYPE_CHECKING:
    from ctys.inventory.store import Inventory

_MAX_CANDIDATES_SHOWN = 10
# A field's position: its 1-based number in the original's record (inventory.fields).
_POSITION = {spec.name: spec.position for spec in FIELD_TABLE if spec.position is not None}
# Terms may also name ctys' own fields (MODE=...): they get numbers after the original's.
_TERM_POSITION = {
    spec.name: spec.position or FULL_WIDTH + number
    for number, spec in enumerate(FIELD_TABLE, start=1)
}
_COLUMNS = SqlColumns(
    {number: name.lower() for name, number in _TERM_POSITION.items()},
    caseless=frozenset(CASELESS_COLUMNS),
)


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
class Query:
    """The parsed words, the match rule, and the fields that SORT, USORT and UNIQUE
    compare (usually the output fields)."""

    expr: VhostQuery = field(default_factory=VhostQuery)
    rule: MatchRule = MatchRule.ALL
    key_fields: tuple[str, ...] = FIELDS
    complement: bool = False  # the records that do NOT match, then ``rule``


class NotUniqueError(AddressError):
    """``UNIQUE`` was asked for and several different records match (the original's exit
    status 11)."""

    exit_code = ExitStatus.AMBIGUOUS

    def __init__(self, candidates: Sequence[str]) -> None:
        self.candidates = tuple(candidates)
        shown = ", ".join(self.candidates[:_MAX_CANDIDATES_SHOWN])
        more = len(self.candidates) - _MAX_CANDIDATES_SHOWN
        tail = f" and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.candidates)} different records match: {shown}{tail}")


def resolve_field(name: str) -> tuple[int, bool] | None:
    """A field name or alias → (its position, compared without regard to case); ``None``
    when ``name`` names no field (then ``NAME=value`` is a regex)."""
    if not is_field_name(name):
        return None
    canonical = canonical_field(name)
    return _TERM_POSITION[canonical], canonical.lower() in CASELESS_COLUMNS


def field_position(name: str) -> int | None:
    """The 1-based position of field ``name`` (canonical) in the original's record,
    ``None`` for a field of ctys' own that the original record lacks."""
    return _POSITION.get(name)


def parse_words(words: Sequence[str]) -> VhostQuery:
    """The query of ``ctys-vhost``'s argument words (``UsageError`` if malformed)."""
    return vhostquery.parse(words, resolve_field, FULL_WIDTH)


def field_equals(name: str, value: str) -> Step:
    """The step ``AND NAME=value`` (e.g. ``--host``)."""
    found = resolve_field(name)
    if found is None:
        raise UsageError(f"unknown field '{name}'")
    return Step(Op.AND, False, FieldEqualsTerm(found[0], value, found[1]))


def parse_rule(text: str) -> MatchRule:
    """``first`` → ``MatchRule.FIRST``; an unknown rule is a ``UsageError``."""
    try:
        return MatchRule(text.strip().upper())
    except ValueError:
        known = "|".join(r.value for r in MatchRule)
        raise UsageError(f"unknown match rule '{text}' (use {known})") from None


def parse_rules(text: str) -> tuple[MatchRule, bool]:
    """``-M`` as the original takes it, a comma list: one reduction rule (default ALL)
    and whether COMPLEMENT was asked too (``-M FIRST,COMPLEMENT``: the first record that
    does not match)."""
    rules = [parse_rule(word) for word in text.split(",") if word.strip()]
    if not rules:
        raise UsageError(f"empty match rule '{text}'")
    complement = MatchRule.COMPLEMENT in rules
    reductions = list(dict.fromkeys(r for r in rules if r is not MatchRule.COMPLEMENT))
    if len(reductions) > 1:
        names = ",".join(r.value for r in reductions)
        raise UsageError(
            f"-M {names}: these rules exclude each other (one of them, and COMPLEMENT)"
        )
    return (reductions[0] if reductions else MatchRule.ALL), complement


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
    """A query from command-line words."""
    return Query(parse_words(words), rule, tuple(key_fields))


def where_clause(expr: VhostQuery) -> tuple[str, list[str | int]]:
    """SQL condition over the ``records`` table (and ``idx``, a record's 1-based position,
    when ``expr`` has an ``R:`` term) with its parameters."""
    return vhostquery.to_sql(expr, _COLUMNS)


def run_query(inventory: Inventory, query: Query) -> list[InventoryRecord]:
    """The records of ``inventory`` selected by ``query``."""
    where, params = where_clause(query.expr)
    numbered = query.expr.uses_index
    rule = query.rule
    if rule is MatchRule.COMPLEMENT or query.complement:
        where = f"NOT ({where})"
    if rule is MatchRule.FIRST:
        return inventory.select(where, params, limit=1, numbered=numbered)
    if rule is MatchRule.LAST:
        return inventory.select(where, params, order="id DESC", limit=1, numbered=numbered)
    records = inventory.select(where, params, numbered=numbered)
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
    """Make ``ctys_re(pattern, text)`` and ``ctys_fre(value, text)`` (see
    ``ctys.inventory.vhostquery``) available to SQL on ``db``."""
    db.create_function("ctys_re", 2, vhostquery.sql_regex, deterministic=True)
    db.create_function("ctys_fre", 2, vhostquery.sql_field_regex, deterministic=True)
