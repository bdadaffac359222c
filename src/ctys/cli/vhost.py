"""``ctys-vhost``: query the inventory (name-service cache) like the original's tool.

    ctys-vhost [-c DBPATH] [-C LIST|CLEAR] [-o FIELDS] [-M RULE] [-t|-j] [--title]
               [--host NAME] [--import FILE] [--export FILE] [PATTERN ...]

Exit status: 0 when something matched (or an admin operation succeeded), 1 when nothing
matched or on an error, 2 for bad usage. Every error is one line ``ctys-vhost: ...``.
docs/inventory.md describes the options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from ctys.atomicfile import write_text_atomically
from ctys.errors import CtysError, ExitStatus, UsageError
from ctys.inventory.cachedb import export_cachedb, import_cachedb
from ctys.inventory.query import (
    FieldPattern,
    Pattern,
    Query,
    parse_fields,
    parse_pattern,
    parse_rule,
)
from ctys.inventory.record import FIELDS, InventoryRecord
from ctys.inventory.store import Inventory, default_inventory_path
from ctys.invocation import OutputFormat
from ctys.runguard import run_guarded
from ctys.safestream import safe_stream

PROG = "ctys-vhost"
DEFAULT_FIELDS = ("LABEL", "HOST", "STYPE", "TCP", "MAC", "UUID", "PNAME")
# Words in -o that choose the format rather than a field (the original's -o keywords).
_FORMAT_WORDS = {"TERSE": OutputFormat.TERSE, "MACHINE": OutputFormat.TERSE}
_TITLE_WORD = "TITLE"
_CACHE_COMMANDS = ("LIST", "CLEAR", "CLEARALL")


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one-line ``UsageError``s instead of usage dumps."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Query the ctys inventory. PATTERN: FIELD=value or FIELD:value "
        "(exact; field names or aliases), or a word matched case-insensitively as a "
        "regex against the whole record line. All patterns must match.",
    )
    parser.add_argument("-c", dest="db", metavar="DBPATH", help="inventory file")
    parser.add_argument(
        "-C", dest="cache", metavar="CMD", help="LIST: show the inventory; CLEAR: empty it"
    )
    parser.add_argument("-o", dest="fields", metavar="FIELDS", help="output fields, comma list")
    parser.add_argument(
        "-M", dest="rule", metavar="RULE", default="ALL",
        help="FIRST|LAST|ALL|UNIQUE|SORT|USORT|COMPLEMENT",
    )  # fmt: skip
    parser.add_argument("-t", "--terse", action="store_true", help="';'-separated lines")
    parser.add_argument("-j", "--json", action="store_true", help="JSON")
    parser.add_argument("--title", action="store_true", help="header line in terse output")
    parser.add_argument("--host", help="only records of HOST")
    parser.add_argument("--import", dest="import_file", metavar="FILE", help="merge a cacheDB")
    parser.add_argument("--export", dest="export_file", metavar="FILE", help="write a cacheDB")
    parser.add_argument("-d", dest="debug", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("patterns", nargs="*", metavar="PATTERN")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ctys-vhost`` with ``argv`` (``sys.argv[1:]`` when None); return exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = [0]

    def body() -> int:
        # Over the guarded streams that run_guarded installs: data cannot drive the tty.
        out, err = safe_stream(sys.stdout), safe_stream(sys.stderr)
        try:
            options = _parser().parse_args(args)
        except SystemExit as exc:  # argparse after -h, or a usage error (already printed)
            return int(exc.code or 0)
        debug[0] = options.debug
        return run(options, out, err)

    return run_guarded(PROG, body, lambda: debug[0])


def run(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Carry out parsed options; raise ``CtysError`` on failure."""
    fields, fmt, title = _output_choice(options)
    query = _build_query(options, fields)
    path = Path(options.db).expanduser() if options.db else default_inventory_path()
    cache = options.cache.upper() if options.cache else None
    if cache is not None and cache not in _CACHE_COMMANDS:
        raise UsageError(f"unknown -C command '{options.cache}' (use {'|'.join(_CACHE_COMMANDS)})")
    admin = bool(cache or options.import_file)
    if not admin and not path.exists():
        raise CtysError(
            f"no inventory at {path} (fill it with 'ctys -a ENUMERATE' or '{PROG} --import')"
        )
    # Queries, -C LIST and --export only read: a read-only (shared) inventory answers them.
    writes = cache in ("CLEAR", "CLEARALL") or bool(options.import_file)
    opener = Inventory.open if writes or not path.exists() else Inventory.open_readonly
    with opener(path) as inventory:
        if cache in ("CLEAR", "CLEARALL"):
            inventory.clear()
            print(f"{PROG}: cleared {path}", file=err)
        if options.import_file:
            added = inventory.add(_read_cachedb(options.import_file))
            print(f"{PROG}: merged {added} records from {options.import_file}", file=err)
        if cache == "LIST":
            _list_inventory(inventory, out)
        if admin and not options.patterns and not options.export_file:
            return ExitStatus.OK
        records = inventory.query(query)
    if options.export_file:
        _write_cachedb(records, options.export_file, out)
        return ExitStatus.OK if records or not options.patterns else ExitStatus.NO_MATCH
    from ctys.tables import render

    # Like grep, no match prints nothing (JSON still prints its empty list).
    if records or fmt is OutputFormat.JSON:
        render([r.as_row() for r in records], fields, fmt, out, title=title)
    return ExitStatus.OK if records else ExitStatus.NO_MATCH


def _output_choice(options: argparse.Namespace) -> tuple[tuple[str, ...], OutputFormat, bool]:
    """Fields, format and title from ``-o``, ``-t``, ``-j`` and ``--title``."""
    if options.terse and options.json:
        raise UsageError("-t and -j exclude each other")
    fmt = OutputFormat.JSON if options.json else OutputFormat.TABLE
    if options.terse:
        fmt = OutputFormat.TERSE
    title = options.title
    fields: tuple[str, ...] = ()
    if options.fields:
        names: list[str] = []
        for word in options.fields.split(","):
            upper = word.strip().upper()
            if upper == _TITLE_WORD:
                title = True
            elif upper in _FORMAT_WORDS:
                if fmt is not OutputFormat.JSON:
                    fmt = _FORMAT_WORDS[upper]
            elif upper:
                names.append(word)
        if names:
            fields = parse_fields(",".join(names))
    if not fields:
        # Machine formats carry the whole record; the table keeps to the usual columns.
        fields = DEFAULT_FIELDS if fmt is OutputFormat.TABLE else FIELDS
    # A table always has its header; terse only with TITLE / --title.
    return fields, fmt, title or fmt is OutputFormat.TABLE


def _build_query(options: argparse.Namespace, fields: tuple[str, ...]) -> Query:
    patterns: list[Pattern] = [FieldPattern("HOST", options.host)] if options.host else []
    patterns += [parse_pattern(word) for word in options.patterns]
    return Query(tuple(patterns), parse_rule(options.rule), fields)


def _read_cachedb(name: str) -> list[InventoryRecord]:
    if name == "-":
        return import_cachedb(sys.stdin.read(), "<stdin>")
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CtysError(f"cannot read {name}: {err}") from err
    return import_cachedb(text, name)


def _write_cachedb(records: Sequence[InventoryRecord], name: str, out: TextIO) -> None:
    if name == "-":
        export_cachedb(records, out)
        return
    try:
        write_text_atomically(Path(name), lambda fh: export_cachedb(records, fh))
    except OSError as err:
        raise CtysError(f"cannot write {name}: {err}") from err


def _list_inventory(inventory: Inventory, out: TextIO) -> None:
    print(f"inventory: {inventory.path}", file=out)
    print(f"records:   {inventory.count()}", file=out)
    print(f"hosts:     {', '.join(inventory.hosts()) or '-'}", file=out)
