"""SORT[:<key>[%<key>...]] of the original's LIST and ENUMERATE, as its ``sort`` call did:
``<n>`` sorts on the fields from the n-th (1-based) to the end of the record (``sort -k n``),
else on the whole record; ``UNIQUE`` keeps the first of the records whose sort key is
equal (``sort -u``); ``ALL`` (the default) sorts the records of every target together,
``EACH`` each target's records on their own. Records compare as text, field by field."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ctys.errors import UsageError

T = TypeVar("T")
_MAX_DIGITS = 3  # the original takes one to three digits


@dataclass(frozen=True)
class SortSpec:
    """A parsed SORT: the 1-based first key field (``None``: the whole record), whether
    equal keys collapse to one record, and whether each target sorts on its own."""

    key: int | None = None
    unique: bool = False
    each: bool = False


def parse_sort(args: Sequence[str]) -> SortSpec:
    """The SORT suboption's values (``ALL``, ``EACH``, ``UNIQUE``, a field number, any
    case); ``UsageError`` naming the first other one."""
    key: int | None = None
    unique = each = False
    for arg in args:
        word = arg.strip().upper()
        if word == "ALL":
            each = False
        elif word == "EACH":
            each = True
        elif word == "UNIQUE":
            unique = True
        elif word.isdigit() and len(word) <= _MAX_DIGITS and int(word) > 0:
            key = int(word)
        else:
            raise UsageError(
                f"unknown SORT key '{arg}' (ALL, EACH, UNIQUE or a field number 1-999)"
            )
    return SortSpec(key, unique, each)


def sort_records(
    records: Sequence[T],
    cells: Callable[[T], Sequence[str]],
    spec: SortSpec,
    *,
    group: Callable[[T], Hashable] | None = None,
) -> list[T]:
    """``records`` sorted by ``spec`` on their printed ``cells``; with ``spec.each`` and a
    ``group`` (the target of a record), each group sorted on its own, the groups in the
    order they first appear."""
    if spec.each and group is not None:
        groups: dict[Hashable, list[T]] = {}
        for record in records:
            groups.setdefault(group(record), []).append(record)
        return [r for members in groups.values() for r in _sorted(members, cells, spec)]
    return _sorted(records, cells, spec)


def _sorted(records: Sequence[T], cells: Callable[[T], Sequence[str]], spec: SortSpec) -> list[T]:
    def key_of(record: T) -> tuple[str, ...]:
        values = tuple(cells(record))
        return values if spec.key is None else values[spec.key - 1 :]

    # The whole record breaks ties, as sort(1) does without -s.
    ordered = sorted(records, key=lambda r: (key_of(r), tuple(cells(r))))
    if not spec.unique:
        return ordered
    kept: list[T] = []
    last: tuple[str, ...] | None = None
    for record in ordered:
        current = key_of(record)
        if current != last:
            kept.append(record)
        last = current
    return kept
