"""The query language of ``ctys-vhost`` (the original's, COMPAT §4): parsing to an AST,
evaluation on one record, and translation to one SQL condition.

Words, left to right:

- a term: an awk-style (POSIX extended) regular expression matched, case-sensitively,
  against the whole record line; ``F:<n>:<regex>`` against field ``n`` only (1-based,
  the cacheDB column order); ``E:<n>:<m>``: field ``n`` matches the value of field ``m``
  taken as a regex (``$n ~ $m``); ``R:<index>[:<last>]``: the record(s) at that position
  of the inventory (1-based, like the line number in ``enum.fdb``); and, beyond the
  original, ``FIELD=value`` / ``FIELD:value`` (``L:web1``): the field equals the value.
- ``AND`` (also just a space), ``OR``, ``NOT`` (any case).

Evaluation is the original's, left to right with "inverted precedence": ``AND t`` filters
the current result by ``t`` (and remembers the result before it); ``OR t`` adds the
records of that remembered result that match ``t``. So ``x AND a OR b OR c AND y`` is
``x AND (a OR b OR c) AND y``: a conjunction of OR-groups (``VhostQuery.groups``), which
is also how it becomes one SQL condition. ``NOT`` negates the next term only; unlike the
original (where a second ``NOT`` has no effect) ``NOT NOT t`` is ``t``. The result is a
set in inventory order: a record matched by two ORed terms is listed once (the original
printed it twice).

Pure: imports nothing of the store. The caller says how a field name maps to a position
(``FieldResolver``) and a position to an SQL column.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from ctys.errors import UsageError

# A field name (or alias) → (1-based position, compared without regard to case); None when
# the name is not a field.
FieldResolver = Callable[[str], "tuple[int, bool] | None"]

_REGEX_CHARS = frozenset(".^$*+?{}[]\\|()")
_FIELD_TERM = re.compile(r"[Ff]:(\d+):(.*)", re.DOTALL)
_COMPARE_TERM = re.compile(r"[Ee]:(\d+):(\d+)")
_INDEX_TERM = re.compile(r"[Rr]:(\d+)(?::(\d+))?")
_SPECIAL_PREFIX = re.compile(r"[FfEeRr]:")
_EQUALS_TERM = re.compile(r"([A-Za-z]+)[:=](.*)", re.DOTALL)
_MAX_WORDS = 200
# POSIX bracket classes (awk has them, Python's re does not).
_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "print": " -~",
    "graph": "!-~",
    "cntrl": "\\x00-\\x1f\\x7f",
}
_POSIX_CLASS = re.compile(r"\[:([a-z]+):\]")


class Op(Enum):
    """How a term joins the result so far."""

    AND = "AND"
    OR = "OR"


@dataclass(frozen=True)
class RegexTerm:
    """A regular expression searched in the whole record line (awk ``$0 ~ re``)."""

    pattern: str


@dataclass(frozen=True)
class FieldRegexTerm:
    """``F:<n>:<regex>``: the regex searched in field ``n`` (awk ``match($n, re)``)."""

    position: int
    pattern: str


@dataclass(frozen=True)
class FieldCompareTerm:
    """``E:<n>:<m>``: field ``n`` matches field ``m``'s value as a regex (``$n ~ $m``)."""

    left: int
    right: int


@dataclass(frozen=True)
class IndexTerm:
    """``R:<first>[:<last>]``: records at inventory positions first..last (1-based)."""

    first: int
    last: int


@dataclass(frozen=True)
class FieldEqualsTerm:
    """``FIELD=value`` (ctys): field ``position`` equals ``value``; ``caseless`` for MAC and
    UUID. The one term the store answers through an index."""

    position: int
    value: str
    caseless: bool = False


Term = RegexTerm | FieldRegexTerm | FieldCompareTerm | IndexTerm | FieldEqualsTerm


@dataclass(frozen=True)
class Step:
    """One term of the query with the operator before it and whether it is negated."""

    op: Op
    negated: bool
    term: Term


@dataclass(frozen=True)
class VhostQuery:
    """A parsed query: its steps, left to right. No steps: every record."""

    steps: tuple[Step, ...] = ()

    @property
    def groups(self) -> tuple[tuple[Step, ...], ...]:
        """The conjunction of OR-groups the steps mean: a new group at every AND."""
        groups: list[list[Step]] = []
        for step in self.steps:
            if step.op is Op.OR and groups:
                groups[-1].append(step)
            else:
                groups.append([step])
        return tuple(tuple(g) for g in groups)

    @property
    def uses_index(self) -> bool:
        """Whether an ``R:`` term needs the records' positions."""
        return any(isinstance(s.term, IndexTerm) for s in self.steps)


def parse(
    words: Sequence[str], resolve: FieldResolver | None = None, positions: int | None = None
) -> VhostQuery:
    """The query of command-line ``words``. ``resolve`` makes ``FIELD=value`` terms (else
    such a word is a regex); ``positions`` (the number of fields) bounds ``F:``/``E:``.
    A malformed query is a ``UsageError`` naming the word."""
    if len(words) > _MAX_WORDS:
        raise UsageError(f"query of {len(words)} words, at most {_MAX_WORDS} are allowed")
    steps: list[Step] = []
    op: Op | None = None
    negated = False
    pending = ""  # the operator word(s) waiting for their term, for error messages
    for word in words:
        upper = word.upper()
        if upper in ("AND", "OR"):
            if op is not None or negated:
                raise UsageError(f"'{pending} {word}': an operator must be followed by a term")
            if not steps:
                raise UsageError(f"query starts with '{word}': it needs a term before it")
            op = Op(upper)
            pending = word
            continue
        if upper == "NOT":
            negated = not negated
            pending = f"{pending} {word}".strip()
            continue
        term = parse_term(word, resolve, positions)
        steps.append(Step(op or Op.AND, negated, term))
        op, negated, pending = None, False, ""
    if pending:
        raise UsageError(f"query ends in '{pending}': it needs a term after it")
    return VhostQuery(tuple(steps))


def parse_term(
    word: str, resolve: FieldResolver | None = None, positions: int | None = None
) -> Term:
    """One term word (see the module); ``UsageError`` if it is malformed."""
    if _SPECIAL_PREFIX.match(word):
        return _special_term(word, positions)
    match = _EQUALS_TERM.fullmatch(word)
    if match and resolve is not None:
        found = resolve(match.group(1))
        if found is not None:
            return FieldEqualsTerm(found[0], match.group(2), found[1])
    compile_ere(word)  # a bad regex is an error now, not on the first record
    return RegexTerm(word)


def _special_term(word: str, positions: int | None) -> Term:
    kind = word[0].upper()
    if kind == "F":
        field = _FIELD_TERM.fullmatch(word)
        if field is None:
            raise UsageError(f"'{word}': use F:<field number>:<regex>, e.g. F:3:web")
        compile_ere(field.group(2))
        return FieldRegexTerm(_position(field.group(1), word, positions), field.group(2))
    if kind == "E":
        compare = _COMPARE_TERM.fullmatch(word)
        if compare is None:
            raise UsageError(f"'{word}': use E:<field number>:<field number>, e.g. E:28:1")
        left, right = (_position(g, word, positions) for g in compare.groups())
        return FieldCompareTerm(left, right)
    index = _INDEX_TERM.fullmatch(word)
    if index is None:
        raise UsageError(f"'{word}': use R:<index> or R:<first>:<last>, e.g. R:3")
    first = int(index.group(1))
    last = int(index.group(2)) if index.group(2) is not None else first
    if first < 1 or last < first:
        raise UsageError(f"'{word}': record indexes start at 1 and the range must not be empty")
    return IndexTerm(first, last)


def _position(text: str, word: str, positions: int | None) -> int:
    number = int(text)
    if number < 1 or (positions is not None and number > positions):
        top = f"1..{positions}" if positions is not None else "from 1"
        raise UsageError(f"'{word}': no field {number} (fields are numbered {top})")
    return number


@functools.lru_cache(maxsize=256)
def compile_ere(text: str) -> re.Pattern[str]:
    """An awk (POSIX extended) regular expression as a Python pattern: POSIX bracket
    classes such as ``[[:digit:]]`` are translated, a leading ``*`` is literal (as in
    awk). Not a valid regex → ``UsageError``."""
    source = _POSIX_CLASS.sub(_posix_class, text)
    if source.startswith("*"):
        source = "\\" + source
    try:
        return re.compile(source)
    except re.error as err:
        raise UsageError(f"'{text}' is not a regular expression: {err}") from None


def _posix_class(match: re.Match[str]) -> str:
    try:
        return _POSIX_CLASSES[match.group(1)]
    except KeyError:
        raise UsageError(f"unknown character class '[:{match.group(1)}:]'") from None


def _field(values: Sequence[str], position: int) -> str:
    return values[position - 1] if position <= len(values) else ""


def term_matches(term: Term, values: Sequence[str], line: str, index: int) -> bool:
    """Whether one record (its field ``values`` in cacheDB order, its ``line`` and its
    1-based ``index`` in the inventory) satisfies ``term``."""
    if isinstance(term, RegexTerm):
        return compile_ere(term.pattern).search(line) is not None
    if isinstance(term, FieldRegexTerm):
        return compile_ere(term.pattern).search(_field(values, term.position)) is not None
    if isinstance(term, FieldCompareTerm):
        pattern = _field(values, term.right)
        left = _field(values, term.left)
        return _regex_or_literal(pattern).search(left) is not None
    if isinstance(term, IndexTerm):
        return term.first <= index <= term.last
    value = _field(values, term.position)
    if term.caseless:
        return value.lower() == term.value.lower()
    return value == term.value


def matches(query: VhostQuery, values: Sequence[str], line: str, index: int) -> bool:
    """Whether one record is in the result of ``query`` (see ``term_matches``)."""
    return all(
        any(term_matches(s.term, values, line, index) != s.negated for s in group)
        for group in query.groups
    )


@functools.lru_cache(maxsize=256)
def _regex_or_literal(text: str) -> re.Pattern[str]:
    """A field's value used as a regex (``E:``): as awk would, but a value that is not a
    valid regex (rare: a stray ``(``) is compared as a literal instead of failing the
    whole query on one record."""
    try:
        return compile_ere(text)
    except UsageError:
        return re.compile(re.escape(text))


# -- SQL -------------------------------------------------------------------------------

SQL_REGEX_FUNCTION = "ctys_re"
"""The SQL function ``ctys_re(pattern, text)`` that ``register`` installs."""


def sql_regex(pattern: str, text: str) -> int:
    """``ctys_re``: 1 when the awk regex ``pattern`` is found in ``text``."""
    return 1 if compile_ere(pattern).search(text) else 0


def sql_field_regex(pattern: str, text: str) -> int:
    """``ctys_fre``: like ``ctys_re`` with a field value as the pattern (``E:``)."""
    return 1 if _regex_or_literal(pattern).search(text) else 0


@dataclass(frozen=True)
class SqlColumns:
    """How the store names things: the column of each field position, the column of the
    whole line, and the expression of a record's 1-based position (``R:``)."""

    by_position: Mapping[int, str]
    line: str = "line"
    index: str = "idx"
    caseless: frozenset[str] = frozenset()


def to_sql(query: VhostQuery, columns: SqlColumns) -> tuple[str, list[str | int]]:
    """One SQL condition (and its parameters) selecting exactly the records of ``query``.
    ``FIELD=value`` and anchored literals (``F:3:^web1$``) become ``column = ?`` (an
    index answers them); plain literals ``GLOB``; only real regexes call back into
    Python."""
    params: list[str | int] = []
    conjuncts: list[str] = []
    for group in query.groups:
        alternatives = []
        for step in group:
            clause = _term_sql(step.term, columns, params)
            alternatives.append(f"NOT ({clause})" if step.negated else clause)
        joined = " OR ".join(alternatives)
        conjuncts.append(f"({joined})" if len(alternatives) > 1 else joined)
    return " AND ".join(conjuncts) or "1", params


def _column(columns: SqlColumns, position: int) -> str | None:
    return columns.by_position.get(position)


def _term_sql(term: Term, columns: SqlColumns, params: list[str | int]) -> str:
    if isinstance(term, RegexTerm):
        return _regex_sql(columns.line, term.pattern, params)
    if isinstance(term, FieldRegexTerm):
        column = _column(columns, term.position)
        if column is None:  # a field ctys does not store: always empty
            return "1" if compile_ere(term.pattern).search("") else "0"
        anchored = term.pattern
        if anchored.startswith("^") and anchored.endswith("$") and _is_literal(anchored[1:-1]):
            params.append(anchored[1:-1])
            return f"{column} = ?"  # an index answers it
        return _regex_sql(column, term.pattern, params)
    if isinstance(term, FieldCompareTerm):
        left = _column(columns, term.left) or "''"
        right = _column(columns, term.right) or "''"
        return f"ctys_fre({right}, {left})"
    if isinstance(term, IndexTerm):
        params.extend((term.first, term.last))
        return f"{columns.index} BETWEEN ? AND ?"
    column = _column(columns, term.position)
    if column is None:
        return "1" if term.value == "" else "0"
    params.append(term.value)
    collate = " COLLATE NOCASE" if term.caseless or column in columns.caseless else ""
    return f"{column} = ?{collate}"


def _is_literal(text: str) -> bool:
    return not _REGEX_CHARS.intersection(text)


def _regex_sql(column: str, pattern: str, params: list[str | int]) -> str:
    if _is_literal(pattern):
        # GLOB is case-sensitive, like awk, and scans faster than instr(); a literal has
        # none of GLOB's special characters (* ? [ are regex characters too).
        params.append(f"*{pattern}*")
        return f"{column} GLOB ?"
    needed = required_literal(pattern)
    if needed:
        # SQLite evaluates AND left to right: Python sees only the rows GLOB let through.
        params.extend((f"*{needed}*", pattern))
        return f"({column} GLOB ? AND {SQL_REGEX_FUNCTION}(?, {column}))"
    params.append(pattern)
    return f"{SQL_REGEX_FUNCTION}(?, {column})"


_GLOB_SPECIAL = frozenset("*?[]")


def required_literal(pattern: str) -> str:
    """The longest text every match of the awk regex ``pattern`` contains ("" when there
    is none to be sure of: an alternation, or only optional parts). Conservative: runs of
    plain characters outside groups and brackets, without a character that a following
    ``?``, ``*`` or ``{`` may drop."""
    pattern = _POSIX_CLASS.sub(_posix_class, pattern)  # [[:digit:]] → [0-9]
    if "|" in pattern or "(?" in pattern:  # alternation; Python's inline flags ((?i))
        return ""
    runs: list[str] = []
    run: list[str] = []
    depth = 0
    i = 0

    def cut() -> None:
        if run:
            runs.append("".join(run))
            run.clear()

    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            i += 2
            if depth or escaped.isalnum() or escaped in _GLOB_SPECIAL:
                cut()  # \d, \w ... are classes in Python's re; GLOB specials end a run
            else:
                run.append(escaped)
            continue
        if char == "[":
            cut()
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("]", "^") else i + 1)
            i = end + 1 if end > 0 else len(pattern)
            continue
        if char in "?*{":
            if run:
                run.pop()  # the previous character may occur zero times
            cut()
            if char == "{":
                end = pattern.find("}", i)
                i = end if end > 0 else len(pattern)
        elif char == "(":
            cut()
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char in ".^$+" or depth:
            cut()
        else:
            run.append(char)
        i += 1
    cut()
    return max(runs, key=len, default="")
