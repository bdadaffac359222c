"""``ctys-vhost``'s fast path: a query of exact field terms (``L:web1``, ``UUID=...``,
``LABEL=web1 AND HOST=h1``, ``--host NAME``), answered through the store's indexes and
printed as a table off a terminal, terse lines or JSON, with a few small imports
(``sqlite3``, ``ctys.inventory.quickread``, the field names, the plain-table cells) and no
argparse, dataclass, rich or query-language module: start-up is most of such a query's time.

It answers or declines. ``answer`` returns ``None`` for everything else: another option
or term form (a regex, ``F:``, ``OR``, ``NOT``, ``-M`` other than ``ALL``, ``-o`` keys
beyond field names, ``TITLE``, ``MACHINE``/``TERSE``, ``MAXKEY`` and ``IP``), a word that
is wrong (the full path says why), a terminal (rich draws the table there), a cell that is
not printable ASCII in a table (rich measures it), an inventory that needs a closer look
(``quickread.connect_current``). It has written nothing then, and ``ctys.cli.vhostfull``
runs the command from scratch with every option and message. What it prints is what
the full path prints, byte for byte (``tests/unit/test_vhost_lean.py`` compares them).

Ctrl-C is exit 130 as on the full path; SIGTERM and SIGHUP keep their default action here
(the query only reads, there is nothing to clean up; a shell sees 128 + N either way).

The words are scanned by hand as argparse would take them (``ctys.cli.vhostfull``): an
option's value is the next word (``--inventory=PATH``, ``--host=NAME`` too), flags stand
alone, and the patterns are one run of words (argparse refuses a second run).
"""

from __future__ import annotations

import os
import sys

from ctys.inventory.fieldnames import FIELDS, MACHINE_FIELDS, field_name
from ctys.inventory.quickread import CASELESS_COLUMNS, connect_current, default_inventory_file
from ctys.plaintable import TERSE_SEPARATOR, escape_terse, plain_table
from ctys.textescape import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

PROG = "ctys-vhost"
# The original's default table (its TAB_CTYS_VHOST_DEFAULT macro): field and title.
DEFAULT_TABLE = (
    ("LABEL", "label"),
    ("STYPE", "stype"),
    ("ACCELERATOR", "accel"),
    ("DIST", "distro"),
    ("DISTREL", "distrorel"),
    ("OS", "os"),
    ("OSREL", "osrel"),
    ("HOST", "PM"),
    ("IFNAME", "if"),
    ("TCP", "TCP"),
)
MAXKEY = ("HOST", "STYPE", "LABEL", "PNAME", "UUID", "MAC")

_FLAGS = {"-t": "terse", "--terse": "terse", "-j": "json", "--json": "json", "--title": "title"}
_VALUED = {"--inventory": "db", "-c": "db", "-o": "fields", "-M": "rule", "--host": "host"}
_MAX_WORDS = 200  # the query language's limit (ctys.inventory.vhostquery)
_TABLE, _TERSE, _JSON = "table", "terse", "json"
# Exit statuses (ctys.errors.ExitStatus, not imported for three numbers).
_OK, _NO_MATCH, _OUTPUT, _INTERRUPTED, _BROKEN_PIPE = 0, 1, 1, 130, 141

# A chosen column: the field (its store column is the name in lower case) and its title.
Column = tuple[str, str]
Row = tuple[str, ...]


def answer(args: list[str]) -> int | None:
    """Run the query of ``args`` and return its exit status, or ``None`` (nothing written)
    when the full path is to run it (see the module)."""
    try:
        return _answer(args)
    except KeyboardInterrupt:
        return _INTERRUPTED


def _answer(args: list[str]) -> int | None:
    scanned = _scan(args)
    if scanned is None:
        return None
    values, flags, patterns = scanned
    terse, json = "terse" in flags, "json" in flags
    if terse and json:
        return None
    fmt = _JSON if json else _TERSE if terse else _TABLE
    output = _output(values.get("fields"), fmt, "title" in flags)
    where = _where(patterns, values.get("host"))
    if output is None or where is None or not _all_rule(values.get("rule", "ALL")):
        return None
    columns, fmt, title = output
    out = sys.stdout
    # A closed descriptor 0-2 is the full path's to take care of (before any file opens).
    if out is None or not _std_descriptors_open() or (fmt == _TABLE and _isatty(out)):
        return None
    db_path = values.get("db")
    rows = _select(
        os.path.expanduser(db_path) if db_path else default_inventory_file(), columns, where
    )
    if rows is None:
        return None
    text = _render(rows, columns, fmt, title)
    if text is None:
        return None
    return _write(out, text, _OK if rows else _NO_MATCH)


def _scan(args: list[str]) -> tuple[dict[str, str], set[str], list[str]] | None:
    """The options' values, the flags given and the patterns; ``None`` for any other word
    (a macro, ``-h``, an admin option, a second run of patterns, an odd value)."""
    values: dict[str, str] = {}
    flags: set[str] = set()
    patterns: list[str] = []
    option_after_patterns = False
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if "macro:" in word.lower():
            return None
        if not word.startswith("-"):
            if option_after_patterns:
                return None  # argparse: "unrecognized arguments"
            patterns.append(word)
            continue
        option_after_patterns = bool(patterns)
        name, equals, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in _FLAGS and not equals:
            flags.add(_FLAGS[name])
            continue
        if name not in _VALUED:
            return None
        if equals:
            value = attached
        elif index < len(args):
            value = args[index]
            index += 1
        else:
            return None
        if not value or value.startswith("-"):
            return None
        values[_VALUED[name]] = value
    return values, flags, patterns


def _output(spec: str | None, fmt: str, title: bool) -> tuple[list[Column], str, bool] | None:
    """The columns, format and header line of ``-o spec`` (``ctys.cli.vhostout``'s rules
    for the keys this path takes)."""
    chosen: set[str] = set()
    machine = False
    for word in (spec or "").split(","):
        key, colon, _args = word.strip().partition(":")
        upper = key.upper()
        if not upper:
            continue
        if colon:
            return None
        if upper == "TITLE":
            title = True
        elif upper in ("MACHINE", "TERSE"):
            machine = machine or upper == "MACHINE"
            fmt = _TERSE if fmt == _TABLE else fmt
        elif upper == "MAXKEY":
            chosen.update(MAXKEY)
        elif upper == "IP":
            chosen.add("TCP")
        else:
            # The -o keys that are no field (DNS, INDEX, SORT ...) name none.
            name = field_name(upper)
            if name is None:
                return None
            chosen.add(name)
    if machine:
        columns = [(name, name) for name in MACHINE_FIELDS]
    elif chosen:
        columns = [(name, name) for name in FIELDS if name in chosen]  # record order
    elif fmt == _TABLE:
        columns = list(DEFAULT_TABLE)
    else:
        columns = [(name, name) for name in FIELDS]  # -t, -j: the whole record
    return columns, fmt, title or fmt == _TABLE


def _where(patterns: list[str], host: str | None) -> tuple[str, list[str]] | None:
    """The SQL condition of exact field terms joined by AND (or a space), as
    ``ctys.inventory.vhostquery.to_sql`` makes it; ``None`` for any other query."""
    if len(patterns) > _MAX_WORDS:
        return None
    clauses: list[str] = []
    params: list[str] = []
    if host is not None:
        clauses.append("host = ?")
        params.append(host)
    needs_term = True
    for word in patterns:
        if word.upper() == "AND":
            if needs_term:
                return None
            needs_term = True
            continue
        term = _equals_term(word)
        if term is None:
            return None
        column, value = term
        collate = " COLLATE NOCASE" if column in CASELESS_COLUMNS else ""
        clauses.append(f"{column} = ?{collate}")
        params.append(value)
        needs_term = False
    if needs_term:  # no term at all, or a query ending in AND
        return None
    return " AND ".join(clauses), params


def _equals_term(word: str) -> tuple[str, str] | None:
    """``NAME=value`` / ``NAME:value`` (``[A-Za-z]+``, a field name or alias) as (store
    column, value); ``None`` for ``F:``/``E:``/``R:`` terms and words that are regexes."""
    if len(word) > 1 and word[0] in "FfEeRr" and word[1] == ":":
        return None
    end = 0
    while end < len(word) and ("a" <= word[end] <= "z" or "A" <= word[end] <= "Z"):
        end += 1
    if not end or end == len(word) or word[end] not in ":=":
        return None
    name = field_name(word[:end].upper())
    if name is None:
        return None
    return name.lower(), word[end + 1 :]


def _all_rule(rule: str) -> bool:
    """Whether ``-M rule`` is ``ALL`` (in any case, maybe repeated)."""
    words = [word.strip().upper() for word in rule.split(",") if word.strip()]
    return bool(words) and set(words) == {"ALL"}


def _select(path: str, columns: list[Column], where: tuple[str, list[str]]) -> list[Row] | None:
    """The chosen columns of the matching records in inventory order; ``None`` when the
    inventory needs the full path."""
    import sqlite3

    db = connect_current(path)
    if db is None:
        return None
    names = ", ".join(name.lower() for name, _ in columns)
    sql = f"SELECT {names} FROM records WHERE {where[0]} ORDER BY id"  # noqa: S608 (constants)
    try:
        rows: list[Row] = db.execute(sql, where[1]).fetchall()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return rows


def _render(rows: list[Row], columns: list[Column], fmt: str, title: bool) -> str | None:
    """The output text (``ctys.tables.render``'s); ``None`` for a table rich must draw."""
    if not rows and fmt != _JSON:
        return ""  # like grep: no match prints nothing
    titles = [column_title for _, column_title in columns]
    if fmt == _JSON:
        import json

        names = [name for name, _ in columns]
        data = json.dumps([dict(zip(names, row, strict=True)) for row in rows], indent=2)
        return "".join(line + "\n" for line in data.splitlines())
    if fmt == _TERSE:
        lines = [TERSE_SEPARATOR.join(escape_terse(t) for t in titles)] if title else []
        lines += [TERSE_SEPARATOR.join(escape_terse(value) for value in row) for row in rows]
        return "".join(line + "\n" for line in lines)
    table = plain_table([[printable(value) for value in row] for row in rows], titles, title=True)
    return None if table is None else "".join(table)


def _write(out: TextIO, text: str, status: int) -> int:
    """Write ``text`` to stdout; a failure ends the command as ``ctys.runguard`` ends it
    (one line on stderr and status 1; a reader gone: 141, quietly)."""
    try:
        if text:  # (even an empty write fails on a full device, once flushed)
            out.write(text)
        out.flush()
    except (OSError, ValueError) as exc:
        import contextlib
        import errno

        from ctys.stdstreams import silence_file, stream_failure

        failure = stream_failure("stdout", exc)
        silence_file(out)
        if failure.errno == errno.EPIPE:
            return _BROKEN_PIPE
        if sys.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                print(f"{PROG}: {printable(str(failure.strerror))}", file=sys.stderr, flush=True)
        return status or _OUTPUT
    return status


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (OSError, ValueError):  # as ctys.stdstreams.GuardedStream.isatty
        return False


def _std_descriptors_open() -> bool:
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True
