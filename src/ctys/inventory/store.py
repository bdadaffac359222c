"""The inventory: an embedded SQLite store of ``InventoryRecord`` rows (no server).

One row per (host, conf path, MAC, TCP): a VM on a shared filesystem that several hosts
can run is one row per host, a multihomed VM one row per address. Lookups by label, uuid,
mac, tcp, pname and host use indexes. The store runs in WAL mode; every update is one
transaction, so a crash, ``kill -9`` or Ctrl-C in the middle of a scan leaves the
previous inventory as it was.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple, Self, TypeVar

from ctys.errors import CtysError
from ctys.inventory.cachedb import SEPARATOR
from ctys.inventory.filecache import (
    FILE_COLUMNS,
    KnownFile,
    RowReader,
    ScanState,
    ScanUpdate,
    known_to_row,
)
from ctys.inventory.foldercache import FOLDER_COLUMNS, storable
from ctys.inventory.quickread import (
    APPLICATION_ID,
    BUSY_TIMEOUT_S,
    CASELESS_COLUMNS,
    COLUMNS,
    SCHEMA_VERSION,
    connect_current,
)
from ctys.inventory.record import (
    FIELDS,
    MACHINE_FIELDS,
    InventoryRecord,
    canonical_field,
    partial_record,
    record_from_values,
)
from ctys.inventory.settings import default_inventory_path as default_inventory_path
from ctys.privfile import create_private_dir, create_private_file

if TYPE_CHECKING:
    from collections.abc import Callable

    from ctys.inventory.query import Query

T = TypeVar("T")

__all__ = [
    "APPLICATION_ID",
    "CASELESS_COLUMNS",
    "INDEXED_COLUMNS",
    "MERGE_BATCH_ROWS",
    "ROW_KEY",
    "SCHEMA_VERSION",
    "UPGRADABLE",
    "HostScan",
    "Inventory",
    "default_inventory_path",
    "equals_clause",
]

_CACHE_KIB = 64 * 1024
_CHECKPOINT_PAGES = 16384  # 64 MiB in SQLite's default 4 KiB pages
_PAGE_BYTES = 4096

_COLUMNS = COLUMNS
# Lookups by host use the row key's unique index (host first): no index of its own.
INDEXED_COLUMNS = ("label", "uuid", "mac", "tcp", "pname")
# One row per (host, conf path) and address: a multihomed VM is one record per address.
ROW_KEY = ("host", "pname", "mac", "tcp")

_RECORDS_TABLE = (
    "CREATE TABLE records (id INTEGER PRIMARY KEY, "
    + ", ".join(f"{c} TEXT NOT NULL" for c in _COLUMNS)
    # line: the record's enum.fdb line, what bare-word patterns match (like grep on the file)
    + f", line TEXT NOT NULL, UNIQUE ({', '.join(ROW_KEY)}))"
)
# What the last scan knew of each conf file (ctys.inventory.filecache): a rescan does not
# read a file whose key (dev … ctime_ns) is the same.
_FILES_TABLE = (
    "CREATE TABLE files (host TEXT NOT NULL, path TEXT NOT NULL, dev INTEGER NOT NULL,"
    " ino INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " ctime_ns INTEGER NOT NULL, kind TEXT NOT NULL, uuid TEXT NOT NULL, magic TEXT NOT NULL,"
    " vmstate TEXT NOT NULL, note TEXT NOT NULL, PRIMARY KEY (host, path)) WITHOUT ROWID"
)
# What the last scan listed of each folder (ctys.inventory.foldercache): a rescan does not
# list a folder whose key is the same (its dev, ino, mtime_ns, ctime_ns and the scanner's
# uid, packed).
_FOLDERS_TABLE = (
    "CREATE TABLE folders (host TEXT NOT NULL, path TEXT NOT NULL, key BLOB NOT NULL,"
    " listing TEXT NOT NULL, PRIMARY KEY (host, path)) WITHOUT ROWID"
)
_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    _RECORDS_TABLE,
    *(
        f"CREATE INDEX records_{c} ON records ({c}"
        + (" COLLATE NOCASE" if c in CASELESS_COLUMNS else "")
        + ")"
        for c in INDEXED_COLUMNS
    ),
    _FILES_TABLE,
    _FOLDERS_TABLE,
]
# OR REPLACE: a conf symlinked from a base path is known by its target, maybe outside the roots.
_INSERT_FILE = f"INSERT OR REPLACE INTO files VALUES ({', '.join('?' * len(FILE_COLUMNS))})"  # noqa: S608
_INSERT_FOLDER = f"INSERT OR REPLACE INTO folders VALUES ({', '.join('?' * len(FOLDER_COLUMNS))})"  # noqa: S608
# Schema versions whose records table is today's: a reader may query them as they are
# (3 has one index more, which answers the same; 3 and 4 lack tables only rescans use).
_SAME_RECORDS = frozenset({"2", "3", "4"})
# Statements are built from the constant column names only; values are always parameters.
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM records"  # noqa: S608
# ``idx``: the record's position (1-based), like its line number in an enum.fdb (R:).
_SELECT_NUMBERED = (
    f"SELECT {', '.join(_COLUMNS)} FROM "  # noqa: S608
    "(SELECT *, row_number() OVER (ORDER BY id) AS idx FROM records)"
)
_INSERT = (
    f"INSERT INTO records ({', '.join(_COLUMNS)}, line) "  # noqa: S608
    f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})"
)
_UPSERT = (
    _INSERT
    + f" ON CONFLICT ({', '.join(ROW_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_COLUMNS, "line"))
)


def _row_params(record: InventoryRecord) -> tuple[str, ...]:
    # The line patterns match: the plain enum.fdb line (as grep sees the file).
    return (*record.values(), SEPARATOR.join(record.machine_values()))


_MACHINE_WIDTH = len(MACHINE_FIELDS)
if FIELDS[:_MACHINE_WIDTH] != MACHINE_FIELDS:  # the line of a row's values is their first 47
    raise AssertionError("the original's record fields are not the first of FIELDS")
# Rows a merge of many hosts writes in one transaction (``replace_scans``): committing each
# host of 1,000 VMs alone rewrote the same index pages host after host (a bare executemany
# of 1,000 x 1,000 rows: 28 s CPU committed by host, 17 s by 100 hosts).
MERGE_BATCH_ROWS = 100_000


class HostScan(NamedTuple):
    """What a scan of ``roots`` on ``host`` found, as record values (``FIELDS`` order,
    ``ctys.remote.merge.record_values``): one host of a merge (``replace_scans``)."""

    host: str
    roots: Sequence[Path]
    values: Sequence[tuple[str, ...]]


def _values_params(host: str, values: Iterable[tuple[str, ...]]) -> Iterator[tuple[str, ...]]:
    """``_row_params`` of the records of ``values`` (a wrong count of values is an error
    of SQLite's: the statement's bindings)."""
    join = SEPARATOR.join
    for row in values:
        if row[0] != host:
            raise ValueError(f"record for host {row[0]!r} in a scan of {host!r}")
        yield (*row, join(row[:_MACHINE_WIDTH]))


_record = record_from_values


class Inventory:
    """An open inventory file. Use as a context manager (closes on exit)."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> Inventory:
        """Open (creating if needed) the inventory at ``path``. A file that is not a ctys
        inventory, or is damaged, is a ``CtysError`` naming the path. A new file that
        cannot be set up (a full disk) is removed again: no 0-byte inventory is left."""
        try:
            create_private_dir(path.parent)
        except OSError as err:
            raise CtysError(f"inventory {path}: cannot create its folder: {err}") from err
        new = not path.exists()
        try:
            # 0600 before SQLite makes it: its -wal/-shm/-journal files copy this mode.
            create_private_file(path)
        except OSError as err:
            raise CtysError(f"inventory {path}: cannot create: {err.strerror or err}") from err
        try:
            db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as err:
            raise CtysError(f"inventory {path}: cannot open: {err}") from err
        try:
            _prepare(db, path)
        except BaseException:
            db.close()
            if new:
                _remove_new_inventory(path)
            raise
        return cls._ready(path, db)

    @classmethod
    def open_memory(cls, records: Iterable[InventoryRecord] = ()) -> Inventory:
        """An inventory in memory (nothing on disk) holding ``records``: the store that
        answers queries on a DB directory's ``enum.fdb`` (``ctys.inventory.dbdir``)."""
        path = Path(":memory:")
        db = sqlite3.connect(":memory:", isolation_level=None)
        _prepare(db, path)
        inventory = cls._ready(path, db)
        inventory.add(records)
        return inventory

    @classmethod
    def open_readonly(cls, path: Path) -> Inventory:
        """Open the existing inventory at ``path`` for queries only: nothing is written
        (see ``ctys.inventory.readonly``), so a read-only or shared inventory works. An
        empty file reads as an empty inventory; updates on it fail."""
        current = connect_current(str(path))  # the usual case: one statement checks it
        if current is not None:
            return cls._ready(path, current)
        from ctys.inventory.readonly import connect_readonly

        db = connect_readonly(path, BUSY_TIMEOUT_S)
        try:
            old = _check_readonly(db, path)
        except BaseException:
            db.close()
            raise
        if old in UPGRADABLE and os.access(path, os.W_OK):
            # An older schema is upgraded once by whoever may write it.
            db.close()
            cls.open(path).close()
            return cls.open_readonly(path)
        if old is not None and old not in _SAME_RECORDS:
            db.close()
            _check_version((old,), path)
        return cls._ready(path, db)

    @classmethod
    def _ready(cls, path: Path, db: sqlite3.Connection) -> Inventory:
        from ctys.inventory.query import register_functions

        register_functions(db)
        return cls(path, db)

    def close(self) -> None:
        """Close the file; the object is unusable afterwards."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- updates ---------------------------------------------------------------------

    def replace_scan(
        self, host: str, roots: Sequence[Path], records: Iterable[InventoryRecord]
    ) -> int:
        """Replace what a scan of ``roots`` on ``host`` found before by ``records``, in one
        transaction: this host's rows whose conf path lies under any root are deleted, the
        new ones inserted. Returns the rows written. If anything fails before the commit
        (an exception from ``records``, Ctrl-C, kill -9) the inventory stays as it was.

        ``records`` may be a lazy generator (the scan itself); the write lock is held while
        it runs, readers are not blocked (WAL)."""
        counter = _Counter()

        def checked() -> Iterator[tuple[str, ...]]:
            for record in _checked_host(host, records):
                counter.value += 1
                yield _row_params(record)

        with self._transaction() as db:
            _replace_under_roots(db, host, roots, checked())
        return counter.value

    def replace_scans(
        self, scans: Iterable[HostScan], *, batch_rows: int = MERGE_BATCH_ROWS
    ) -> int:
        """``replace_scan`` for each of ``scans`` (host, roots, record values), the hosts of a
        merge: each host's rows are replaced whole, together with the hosts before it in
        one transaction until that holds ``batch_rows`` rows. A crash, ``kill -9`` or an
        exception loses the hosts of the transaction under way (their earlier rows stay
        as they were), never part of a host. Returns the rows written."""
        written = 0
        for batch in _batches(scans, batch_rows):
            with self._transaction() as db:
                for scan in batch:
                    _replace_under_roots(
                        db, scan.host, scan.roots, _values_params(scan.host, scan.values)
                    )
                    written += len(scan.values)
        return written

    def rescan(
        self,
        host: str,
        roots: Sequence[Path],
        readers: str,
        scan: Callable[[ScanState], ScanUpdate[T]],
        *,
        fields: Sequence[str] | None = None,
    ) -> T:
        """An incremental scan of ``roots`` on ``host`` (``ctys.address.rescan``): ``scan``
        is called with what the last scan by ``readers`` knew of each file and folder under
        the roots and with this host's rows there (``ScanState``); what it returns is
        written in one transaction: the rows of the files not in its ``keep`` deleted, its
        ``fresh`` rows added, the files table set to its ``known``, the folders table to
        the listings it kept and made. Returns its ``result``. ``fields``: the only
        fields the scan needs of the rows it keeps (names or aliases; the others are empty
        in ``ScanState.rows``); None: all.

        The scan runs without the write lock; if another process wrote the inventory
        meanwhile, it runs once more under the lock, on what that one left. A crash
        before the commit leaves the inventory as it was."""
        roots = _outermost(roots)
        state = self._scan_state(host, roots, readers, fields)
        version = self._data_version()
        update = scan(state)
        with self._transaction() as db:
            if self._data_version() != version:
                state = self._scan_state(host, roots, readers, fields)
                update = scan(state)
            known, rows = state.known, state.rows
            gone = [(host, pname) for pname in rows if pname not in update.keep]
            db.executemany("DELETE FROM records WHERE host = ? AND pname = ?", gone)
            db.executemany(_UPSERT, (_row_params(r) for r in _checked_host(host, update.fresh)))
            # Entries of other plugin sets (not in ``known``) are replaced as well.
            same = {
                path
                for path, entry in update.known.items()
                if (before := known.get(path)) is entry or before == entry
            }
            stale = [(host, path) for path in state.listed if path not in same]
            db.executemany("DELETE FROM files WHERE host = ? AND path = ?", stale)
            new = (
                known_to_row(host, path, entry)
                for path, entry in update.known.items()
                if path not in same and storable(path)  # else: read again next time
            )
            db.executemany(_INSERT_FILE, new)
            folders = update.folders
            if folders is not None:
                kept = folders.kept
                old = [(host, path) for path in state.folders if path not in kept]
                db.executemany("DELETE FROM folders WHERE host = ? AND path = ?", old)
                db.executemany(_INSERT_FOLDER, folders.to_rows(host))
        return update.result

    def _scan_state(
        self, host: str, roots: Sequence[Path], readers: str, fields: Sequence[str] | None
    ) -> ScanState:
        """What the inventory holds under ``roots`` for a scan by ``readers`` (``fields``:
        of the rows, see ``rescan``)."""
        listed: list[str] = []
        known: dict[str, KnownFile] = {}
        reader = RowReader(readers)
        for row in self._read_under(host, roots, "files", FILE_COLUMNS):
            path = str(row[0])
            listed.append(path)
            entry = reader.known(row[1:])
            if entry is not None:
                known[path] = entry
        columns = _COLUMNS
        if fields is not None:
            wanted = {canonical_field(name).lower() for name in (*fields, "pname")}
            columns = tuple(c for c in _COLUMNS if c in wanted)
        pname = columns.index("pname")
        rows: dict[str, list[InventoryRecord]] = {}
        for root in roots:
            where, params = _under_root_where(host, root, "pname")
            select = f"SELECT {', '.join(columns)} FROM records WHERE {where} ORDER BY id"  # noqa: S608
            for row in self._read(select, params):
                whole = fields is None
                record = record_from_values(row) if whole else partial_record(columns, row)
                rows.setdefault(row[pname], []).append(record)
        folder_rows = self._read_under(host, roots, "folders", FOLDER_COLUMNS)
        folders = {str(path): (key, listing) for path, key, listing in folder_rows}
        return ScanState(listed, known, rows, folders)

    def _read_under(
        self, host: str, roots: Sequence[Path], table: str, columns: Sequence[str]
    ) -> list[tuple[object, ...]]:
        """The rows of ``table`` (``columns`` after host) of ``host`` under ``roots``."""
        found: list[tuple[object, ...]] = []
        for root in roots:
            where, params = _under_root_where(host, root, "path")
            found += self._read(
                f"SELECT {', '.join(columns[1:])} FROM {table} WHERE {where}",  # noqa: S608
                params,
            )
        return found

    def _data_version(self) -> int:
        return int(self._read("PRAGMA data_version", ())[0][0])

    def add(self, records: Iterable[InventoryRecord]) -> int:
        """Merge ``records`` in one transaction: a row with the same (host, pname, mac,
        tcp) is replaced, others are added. Returns the rows written."""
        counter = _Counter()
        paths: set[tuple[str, str]] = set()

        def counted() -> Iterator[tuple[str, ...]]:
            for record in records:
                counter.value += 1
                paths.add((record.host, record.pname))
                yield _row_params(record)

        with self._transaction() as db:
            db.executemany(_UPSERT, counted())
            # Rows not made by a scan: the next scan reads those confs again.
            db.executemany("DELETE FROM files WHERE host = ? AND path = ?", paths)
        return counter.value

    def clear(self) -> None:
        """Delete every record."""
        with self._transaction() as db:
            db.execute("DELETE FROM records")
            db.execute("DELETE FROM files")
            db.execute("DELETE FROM folders")

    # -- reads -----------------------------------------------------------------------

    def find(self, **field_equals: str) -> list[InventoryRecord]:
        """Records whose fields equal the given values exactly (``label="vm1"``,
        ``uuid=...``; names or aliases in any case). MAC and UUID compare without regard
        to case. All given fields must match; in insertion order."""
        clauses: list[str] = []
        params: list[str] = []
        for name, value in field_equals.items():
            clause, param = equals_clause(name, value)
            clauses.append(clause)
            params.append(param)
        return self.select(" AND ".join(clauses) or "1", params)

    def query(self, query: Query) -> list[InventoryRecord]:
        """Records matching ``query`` (AND of patterns), reduced by its match rule; see
        ``ctys.inventory.query``."""
        from ctys.inventory.query import run_query

        return run_query(self, query)

    def select(
        self,
        where: str,
        params: Sequence[str | int],
        *,
        order: str = "id",
        limit: int | None = None,
        numbered: bool = False,
    ) -> list[InventoryRecord]:
        """Records for an SQL ``where`` clause over the record columns (and ``line``; with
        ``numbered`` also ``idx``, a record's 1-based position in the inventory).
        Building block for ``query``; callers pass values only as ``params``."""
        select = _SELECT_NUMBERED if numbered else _SELECT
        sql = f"{select} WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_record(row) for row in self._read(sql, params)]

    def all(self) -> list[InventoryRecord]:
        """Every record, in insertion order."""
        return self.select("1", [])

    def count(self) -> int:
        """How many records (rows, so a multipath VM counts once per host)."""
        return int(self._read("SELECT count(*) FROM records", ())[0][0])

    def is_empty(self) -> bool:
        """Whether there is no record at all; unlike ``count() == 0`` it does not visit
        every row (count(*) of 100,000 rows takes about half a millisecond)."""
        return not self._read("SELECT 1 FROM records LIMIT 1", ())

    def labels(self) -> list[str]:
        """The VMs' labels (non-empty), sorted, each once (shell completion of ``l:``)."""
        rows = self._read("SELECT DISTINCT label FROM records WHERE label != '' ORDER BY label", ())
        return [str(row[0]) for row in rows]

    def hosts(self) -> list[str]:
        """The hosts that have records, sorted."""
        rows = self._read("SELECT DISTINCT host FROM records ORDER BY host", ())
        return [str(row[0]) for row in rows]

    # -- internals -------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[str | int]) -> list[tuple[str, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as err:
            raise CtysError(f"inventory {self.path}: read failed: {err}") from err

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self.path)


def equals_clause(name: str, value: str) -> tuple[str, str]:
    """SQL condition (and its one parameter) for field ``name`` equal to ``value``."""
    column = canonical_field(name).lower()
    collate = " COLLATE NOCASE" if column in CASELESS_COLUMNS else ""
    return f"{column} = ?{collate}", value


def _under_root_where(host: str, root: Path, column: str) -> tuple[str, tuple[str, ...]]:
    """SQL condition for ``host``'s rows whose ``column`` (a path) is ``root`` or below it,
    as an index range: ``root/`` <= path < ``root0`` (``0`` follows ``/`` in byte order)."""
    text = str(root.absolute())  # conf paths are stored absolute
    prefix = text if text.endswith("/") else text + "/"
    upper = prefix[:-1] + "0"
    return (
        f"host = ? AND ({column} = ? OR ({column} >= ? AND {column} < ?))",
        (host, text, prefix, upper),
    )


def _under_root_delete(
    host: str, root: Path, table: str = "records", column: str = "pname"
) -> tuple[str, tuple[str, ...]]:
    """DELETE of ``host``'s rows of ``table`` under ``root`` (``_under_root_where``)."""
    where, params = _under_root_where(host, root, column)
    return f"DELETE FROM {table} WHERE {where}", params  # noqa: S608


def _outermost(roots: Sequence[Path]) -> list[Path]:
    """``roots`` without those inside another one (each row is under one root only)."""
    texts = sorted({str(root.absolute()) for root in roots})
    kept: list[str] = []
    for text in texts:
        if not any(text == k or text.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(text)
    return [Path(text) for text in kept]


def _replace_under_roots(
    db: sqlite3.Connection, host: str, roots: Sequence[Path], params: Iterable[tuple[str, ...]]
) -> None:
    """Inside a transaction: ``host``'s rows (and files and folders) under ``roots``
    deleted, then the rows of ``params`` (``_row_params``) upserted."""
    for root in roots:
        db.execute(*_under_root_delete(host, root))
        db.execute(*_under_root_delete(host, root, "files", "path"))
        db.execute(*_under_root_delete(host, root, "folders", "path"))
    db.executemany(_UPSERT, params)


def _batches(scans: Iterable[HostScan], rows: int) -> Iterator[list[HostScan]]:
    """``scans`` in groups of at least ``rows`` rows (the last one may hold fewer)."""
    batch: list[HostScan] = []
    count = 0
    for scan in scans:
        batch.append(scan)
        count += len(scan.values)
        if count >= rows:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


def _checked_host(host: str, records: Iterable[InventoryRecord]) -> Iterator[InventoryRecord]:
    for record in records:
        if record.host != host:
            raise ValueError(f"record for host {record.host!r} in a scan of {host!r}")
        yield record


class _Counter:
    """Rows handed to ``executemany`` (it does not say how many it wrote)."""

    def __init__(self) -> None:
        self.value = 0


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception (incl. Ctrl-C)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._path = path

    def __enter__(self) -> sqlite3.Connection:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise CtysError(f"inventory {self._path}: cannot start an update: {err}") from err
        return self._db

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            # SQLite may already have rolled back by itself (e.g. disk full).
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise CtysError(f"inventory {self._path}: update failed: {exc}") from exc
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise CtysError(f"inventory {self._path}: commit failed: {err}") from err


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    """Check that ``db`` is a ctys inventory (or empty, then create the schema)."""
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if app_id == 0 and not tables:
            db.execute("PRAGMA journal_mode = WAL")
            with _Transaction(db, path):
                # Another process may have created it since we looked: check under the lock.
                if not db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    for statement in _SCHEMA:
                        db.execute(statement)
                    db.execute(
                        "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        elif app_id != APPLICATION_ID or "records" not in tables:
            raise CtysError(f"{path}: not a ctys inventory (an SQLite file of something else)")
        else:
            db.execute("PRAGMA journal_mode = WAL")
            _upgrade_if_old(db, path)
        # WAL + NORMAL: a commit is atomic; only the very last one may be lost on power cut.
        db.execute("PRAGMA synchronous = NORMAL")
        # Up to 64 MiB of pages (taken only as used; default 2 MiB): an ENUMERATE merge of
        # many hosts updates seven indexes, and with the default cache most index pages
        # of a large inventory are read again for every row (82 -> 56 us a row at 300k).
        db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        # Checkpoint every 64 MiB of WAL, not every 4 MiB: a merge of many hosts rewrites
        # the same index pages host after host, and each checkpoint copies and syncs them
        # (51 -> 35 us a row at 200k rows). The WAL file is cut back to that size after.
        db.execute(f"PRAGMA wal_autocheckpoint = {_CHECKPOINT_PAGES}")
        db.execute(f"PRAGMA journal_size_limit = {_CHECKPOINT_PAGES * _PAGE_BYTES}")
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as err:
        from ctys.inventory.readonly import is_access_error

        if is_access_error(err):  # a read-only file or a full disk: not "damaged"
            raise CtysError(f"inventory {path}: cannot write: {err}") from err
        raise CtysError(f"{path}: not a ctys inventory or damaged: {err}") from err
    _check_version(version, path)


def _upgrade_if_old(db: sqlite3.Connection, path: Path) -> None:
    """An inventory of an older schema gets today's, its rows kept, in one transaction:
    one step (``_UPGRADES``) after the other."""

    def version() -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else str(row[0])

    if version() not in _UPGRADES:
        return
    with _Transaction(db, path):
        old = version()  # another process may have upgraded it meanwhile
        if old not in _UPGRADES:
            return
        while old != str(SCHEMA_VERSION):
            old = _UPGRADES[old](db)
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (old,))


def _records_of_schema_1(db: sqlite3.Connection) -> str:
    """Schema 1 → today's: its rows as today's records (``ctys.inventory.upgrade``), in
    today's tables."""
    from ctys.inventory.upgrade import records_of_old_rows

    cursor = db.execute("SELECT * FROM records ORDER BY id")
    columns = [column[0] for column in cursor.description]
    records = list(records_of_old_rows(columns, cursor.fetchall()))
    db.execute("DROP TABLE records")  # and its indexes
    for statement in _SCHEMA[1:]:  # all but meta
        db.execute(statement)
    db.executemany(_UPSERT, (_row_params(r) for r in records))
    return str(SCHEMA_VERSION)


def _add_files_table(db: sqlite3.Connection) -> str:
    """Schema 2 → 3: the records stay; the files table of incremental rescans is new."""
    db.execute(_FILES_TABLE)
    return "3"


def _drop_host_index(db: sqlite3.Connection) -> str:
    """Schema 3 → 4: the index on host alone goes (the row key's serves those lookups; a
    merge of many hosts spent about a tenth of its time updating it)."""
    db.execute("DROP INDEX IF EXISTS records_host")
    return "4"


def _add_folders_table(db: sqlite3.Connection) -> str:
    """Schema 4 → 5: the folders table of incremental rescans is new."""
    db.execute(_FOLDERS_TABLE)
    return "5"


# Schema version → the step that upgrades it (to the version it returns).
_UPGRADES: dict[str, Callable[[sqlite3.Connection], str]] = {
    "1": _records_of_schema_1,
    "2": _add_files_table,
    "3": _drop_host_index,
    "4": _add_folders_table,
}
UPGRADABLE = frozenset(_UPGRADES)
"""The schema versions an older inventory may have that this ctys upgrades."""


def _check_readonly(db: sqlite3.Connection, path: Path) -> str | None:
    """``_prepare`` for a read-only connection: the same checks, nothing written. An
    empty file gets the schema as TEMP tables (in memory), so queries find no rows.
    Returns the schema version of an older inventory this ctys can upgrade."""
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if app_id == 0 and not tables:
            for statement in _SCHEMA:
                db.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
            return None
        if app_id != APPLICATION_ID or "records" not in tables:
            raise CtysError(f"{path}: not a ctys inventory (an SQLite file of something else)")
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as err:
        raise CtysError(f"{path}: not a ctys inventory or damaged: {err}") from err
    if version is not None and version[0] in UPGRADABLE:
        return str(version[0])
    _check_version(version, path)
    return None


def _remove_new_inventory(path: Path) -> None:
    """Remove the file ``open`` created, if it is still empty (another process that
    created it at the same moment and set it up keeps its file)."""
    with contextlib.suppress(OSError):
        if path.stat().st_size:
            return
        path.unlink()
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            Path(f"{path}{suffix}").unlink()


def _check_version(version: tuple[str] | None, path: Path) -> None:
    if version is None or version[0] != str(SCHEMA_VERSION):
        found = "none" if version is None else version[0]
        raise CtysError(
            f"{path}: inventory schema version {found}, this ctys reads {SCHEMA_VERSION}"
        )
