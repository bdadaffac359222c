"""``ctys-vhost``, every option and message (``ctys.cli.vhost``: the entry point; the
indexed queries that ``ctys.cli.vhostlean`` answers never load this module).

Exit status: 0 when something matched (or an admin operation succeeded), 1 when nothing
matched or on an error, 2 for bad usage, 11 when ``-M UNIQUE`` finds several different
records (the original's status). Every error is one line ``ctys-vhost: ...``.
docs/inventory.md describes the options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from ctys.cli.vhostlean import PROG
from ctys.cli.vhostout import OutputSpec, parse_output, render_output, rows_of
from ctys.errors import CtysError, ExitStatus, UsageError
from ctys.inventory.query import Query, field_equals, parse_rules, parse_words
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory, default_inventory_path
from ctys.inventory.vhostquery import VhostQuery
from ctys.invocation import OutputFormat
from ctys.runguard import run_guarded
from ctys.safestream import safe_stream

_CACHE_COMMANDS = ("LIST", "CLEAR", "CLEARALL")


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one-line ``UsageError``s instead of usage dumps."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Query the ctys inventory with the original's query language. "
        "PATTERN: a regex matched (case-sensitively) against the whole record line; "
        "F:<n>:<regex> against field n; E:<n>:<m> field n matches field m; "
        "R:<index>[:<last>] records by position; FIELD=value or FIELD:value (exact, "
        "ctys). Joined by AND (or a space), OR, NOT, evaluated left to right: "
        "'x AND a OR b AND y' is x AND (a OR b) AND y.",
    )
    parser.add_argument("--inventory", dest="db", metavar="PATH", help="ctys' SQLite inventory")
    parser.add_argument("-c", dest="db", metavar="PATH", help=argparse.SUPPRESS)  # old name
    parser.add_argument(
        "-p", dest="db_dir", metavar="DIR", help="the original's DB directory (DIR/enum.fdb)"
    )
    parser.add_argument(
        "-C", dest="cache", metavar="CMD", help="LIST: show the inventory; CLEAR: empty it"
    )
    parser.add_argument(
        "-o", dest="fields", metavar="FIELDS",
        help="output: field names/aliases, TITLE|TITLEIDX|TITLEIDXASC, MACHINE|TERSE, "
        "MAXKEY, IP, DNS, INDEX, TAB_GEN[:<n>_<title>_<width>%%...], "
        "SORT[:UNIQUE%%REVERSE%%<column>] (comma list)",
    )  # fmt: skip
    parser.add_argument(
        "-M", dest="rule", metavar="RULE", default="ALL",
        help="FIRST|LAST|ALL|UNIQUE|SORT|USORT|COMPLEMENT, or one of them with "
        "COMPLEMENT (comma list); UNIQUE with several different records: exit 11",
    )  # fmt: skip
    parser.add_argument("-t", "--terse", action="store_true", help="';'-separated lines")
    parser.add_argument("-j", "--json", action="store_true", help="JSON")
    parser.add_argument("--title", action="store_true", help="header line in terse output")
    parser.add_argument("--host", help="only records of HOST")
    parser.add_argument("--import", dest="import_file", metavar="FILE", help="merge a cacheDB")
    parser.add_argument("--export", dest="export_file", metavar="FILE", help="write a cacheDB")
    parser.add_argument(
        "--format", dest="file_format", metavar="enum|ctys", default="enum",
        help="--export: the original's enum.fdb (default) or ctys' own escaped file",
    )  # fmt: skip
    parser.add_argument("-d", dest="debug", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("patterns", nargs="*", metavar="PATTERN")
    return parser


def main(args: list[str]) -> int:
    """Run ``ctys-vhost`` with the words ``args``; return its exit status."""
    debug = [0]

    def body() -> int:
        # Over the guarded streams that run_guarded installs: data cannot drive the tty.
        out, err = safe_stream(sys.stdout), safe_stream(sys.stderr)
        try:
            options = _parser().parse_args(_expand_macros(args, err))
        except SystemExit as exc:  # argparse after -h, or a usage error (already printed)
            return int(exc.code or 0)
        debug[0] = options.debug
        return run(options, out, err)

    return run_guarded(PROG, body, lambda: debug[0])


def _expand_macros(args: list[str], err: TextIO) -> list[str]:
    # ctys.cli.main and ctys.macros (and their argv scanner) only when a word holds a
    # macro (ctys.macros.has_macro's test, inlined): a query's start-up is most of its cost.
    if not any("macro:" in word.lower() for word in args):
        return args
    from ctys.cli.main import expand_macros

    return expand_macros(args, err)


def run(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Carry out parsed options; raise ``CtysError`` on failure."""
    output = parse_output(
        options.fields, terse=options.terse, json=options.json, title=options.title
    )
    query = _build_query(options, output)
    path = Path(options.db).expanduser() if options.db else default_inventory_path()
    cache = options.cache.upper() if options.cache else None
    if cache is not None and cache not in _CACHE_COMMANDS:
        raise UsageError(f"unknown -C command '{options.cache}' (use {'|'.join(_CACHE_COMMANDS)})")
    # The file formats (cacheDB, enum.fdb) only for the options that read or write them.
    file_format = "enum"
    if (
        options.db_dir
        or options.import_file
        or options.export_file
        or options.file_format != "enum"
    ):
        from ctys.cli.vhostfiles import check_format

        file_format = check_format(options)
    if options.db_dir is not None:
        if options.db or cache == "LIST":
            raise UsageError("-p DIR (enum.fdb) excludes --inventory and -C LIST")
        from ctys.cli.vhostfiles import run_db_dir

        stored, shown = run_db_dir(options, query, cache, err, PROG)
        if (cache or options.import_file) and not options.patterns and not options.export_file:
            return ExitStatus.OK
        return _answer(options, stored, shown, output, None, file_format, out)
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
            from ctys.cli.vhostfiles import read_cachedb

            added = inventory.add(read_cachedb(options.import_file, err, PROG))
            print(f"{PROG}: merged {added} records from {options.import_file}", file=err)
        if cache == "LIST":
            _list_inventory(inventory, out)
        if admin and not options.patterns and not options.export_file:
            return ExitStatus.OK
        records = inventory.query(query)
        positions = _positions(inventory, records) if output.needs_index else None
    return _answer(options, records, records, output, positions, file_format, out)


def _answer(
    options: argparse.Namespace,
    stored: Sequence[InventoryRecord],
    records: Sequence[InventoryRecord],
    output: OutputSpec,
    positions: Sequence[int] | None,
    file_format: str,
    out: TextIO,
) -> int:
    """Export ``stored`` or print ``records`` (the same answers, as shown)."""
    if options.export_file:
        from ctys.cli.vhostfiles import write_cachedb

        write_cachedb(stored, options.export_file, file_format, out)
        return ExitStatus.OK if stored or not options.patterns else ExitStatus.NO_MATCH
    # Like grep, no match prints nothing (JSON still prints its empty list).
    if records or output.fmt is OutputFormat.JSON:
        rows = rows_of(records, output, list(positions or [0] * len(records)))
        render_output(rows, output, out)
    return ExitStatus.OK if records else ExitStatus.NO_MATCH


def _build_query(options: argparse.Namespace, output: OutputSpec) -> Query:
    expr = parse_words(options.patterns)
    if options.host:
        expr = VhostQuery((field_equals("HOST", options.host), *expr.steps))
    rule, complement = parse_rules(options.rule)
    return Query(expr, rule, output.key_fields, complement)


def _positions(inventory: Inventory, records: Sequence[InventoryRecord]) -> list[int]:
    """Each record's 1-based position in the inventory (``-o INDEX``)."""
    where = {record: number for number, record in enumerate(inventory.all(), start=1)}
    return [where.get(record, 0) for record in records]


def _list_inventory(inventory: Inventory, out: TextIO) -> None:
    print(f"inventory: {inventory.path}", file=out)
    print(f"records:   {inventory.count()}", file=out)
    print(f"hosts:     {', '.join(inventory.hosts()) or '-'}", file=out)
