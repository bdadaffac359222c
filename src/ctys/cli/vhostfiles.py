"""``ctys-vhost``'s files: ``--import``/``--export`` of the original's ``enum.fdb``
(default) or ctys' own escaped cacheDB (``--format ctys``), and ``-p DIR``, the
original's DB directory (``DIR/enum.fdb``, ``DIR/macmap.fdb``; ``ctys.inventory.dbdir``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ctys.atomicfile import write_text_atomically
from ctys.errors import CtysError, UsageError
from ctys.inventory.cachedb import MAGIC, export_cachedb, import_cachedb
from ctys.inventory.dbdir import (
    MACMAP_NAME,
    enum_fdb_path,
    fill_from_macmap,
    read_enum_fdb,
    read_macmap,
    require_db_dir,
    save_enum_fdb,
)
from ctys.inventory.enumfdb import FdbContent, parse_enum_fdb, write_enum_fdb
from ctys.inventory.query import Query
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory

FORMATS = ("enum", "ctys")  # --format: the original's enum.fdb, ctys' own escaped file


def read_cachedb(name: str, err: TextIO, prog: str) -> list[InventoryRecord]:
    """The records of the file ``name`` (``-`` = stdin): ctys' own format when it starts
    with its header line, else ``enum.fdb``. Warnings go to ``err``."""
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as error:
        raise CtysError(f"cannot read {name}: {error.strerror or error}") from error
    source = "<stdin>" if name == "-" else name
    if data.startswith(MAGIC.encode()):
        try:
            return import_cachedb(data.decode("utf-8"), source)
        except UnicodeDecodeError as error:
            raise CtysError(f"cannot read {name}: {error}") from error
    content = parse_enum_fdb(data, source)
    _warn(content, err, prog)
    return list(content.records)


def write_cachedb(records: Sequence[InventoryRecord], name: str, fmt: str, out: TextIO) -> None:
    """Write ``records`` to the file ``name`` (``-`` = ``out``) in ``fmt``, whole or not
    at all (a refused value leaves no file)."""
    target = "<stdout>" if name == "-" else name

    def write(fh: TextIO) -> None:
        if fmt == "ctys":
            export_cachedb(records, fh)
        else:
            write_enum_fdb(records, fh, target)

    if name == "-":
        write(out)
        return
    try:
        write_text_atomically(Path(name), write)
    except OSError as error:
        raise CtysError(f"cannot write {name}: {error.strerror or error}") from error


def check_format(options: argparse.Namespace) -> str:
    """The ``--format`` word (lower case); ``UsageError`` if unknown."""
    fmt = str(options.file_format).lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format '{options.file_format}' (use {'|'.join(FORMATS)})")
    return fmt


def run_db_dir(
    options: argparse.Namespace, query: Query, cache: str | None, err: TextIO, prog: str
) -> tuple[list[InventoryRecord], list[InventoryRecord]]:
    """``-p DIR``: ``-C CLEAR`` empties ``DIR/enum.fdb``, ``--import`` merges into it
    (written back whole), then the query runs on its records. Returns the answers as
    stored (for ``--export``) and as shown: with TCP and NETNAME from ``DIR/macmap.fdb``
    where they lack them."""
    db_dir = Path(options.db_dir).expanduser()
    require_db_dir(db_dir)
    fdb = enum_fdb_path(db_dir)
    content = read_enum_fdb(fdb)
    _warn(content, err, prog)
    with Inventory.open_memory(content.records) as inventory:
        changed = False
        if cache in ("CLEAR", "CLEARALL"):
            inventory.clear()
            changed = True
        if options.import_file:
            added = inventory.add(read_cachedb(options.import_file, err, prog))
            print(f"{prog}: merged {added} records from {options.import_file}", file=err)
            changed = True
        if changed:
            save_enum_fdb(fdb, inventory.all())
        records = inventory.query(query)
    return records, fill_from_macmap(records, read_macmap(db_dir / MACMAP_NAME))


def _warn(content: FdbContent, err: TextIO, prog: str) -> None:
    for line in content.warnings:
        print(f"{prog}: warning: {line}", file=err)
