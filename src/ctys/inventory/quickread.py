"""The inventory's fast way in for readers: what a query needs to open the SQLite file
and check it, importing only ``sqlite3``, ``os`` and the field names.

``connect_current`` opens an inventory read-only and checks it with one statement (ours,
today's schema). It answers only the usual case: anything else (no file, an empty or
foreign or damaged file, an older schema, a file we may only open ``immutable``) is
``None``, and the caller takes ``ctys.inventory.store.Inventory.open_readonly``'s full
path, which says what is wrong or upgrades. ``ctys-vhost``'s indexed queries
(``ctys.cli.vhostlean``) and the store's own read-only open use it.

Paths are strings here, not ``pathlib`` (its import is about a tenth of a query's start-up).
"""

from __future__ import annotations

import os
import sqlite3

from ctys.inventory.fieldnames import FIELDS
from ctys.inventory.location import default_inventory_file as default_inventory_file

APPLICATION_ID = 0x63747973  # "ctys": marks the SQLite file as ours (PRAGMA application_id)
# 2: the original's 47 fields (+ ctys' own), one row per address; 3: + the files table;
# 4: no index on host alone (the row key's unique index starts with host and serves it);
# 5: + the folders table
SCHEMA_VERSION = 5
BUSY_TIMEOUT_S = 10.0
# The records table's columns: the field names in lower case, in record order.
COLUMNS = tuple(name.lower() for name in FIELDS)
# Compared without regard to case (ASCII): users type MACs and UUIDs either way.
CASELESS_COLUMNS = frozenset({"mac", "uuid"})

# One statement for the checks (the first read also opens the file and its WAL index).
_CHECK = (
    "SELECT application_id, (SELECT value FROM meta WHERE key = 'schema_version')"
    " FROM pragma_application_id"
)
# Characters SQLite's URI parser treats specially in a path.
_URI_ESCAPES = str.maketrans({"%": "%25", "?": "%3f", "#": "%23"})


def readonly_uri(path: str, *, immutable: bool = False) -> str:
    """The SQLite URI that opens the file at ``path`` read-only (``immutable``: without
    locks or side files)."""
    absolute = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
    uri = "file:" + absolute.translate(_URI_ESCAPES) + "?mode=ro"
    return uri + "&immutable=1" if immutable else uri


def connect_current(path: str) -> sqlite3.Connection | None:
    """A read-only connection to the inventory at ``path`` when it is a ctys inventory of
    today's schema, else ``None`` (see the module: the caller's full path says why)."""
    if not os.path.isfile(path):
        return None
    try:
        db = sqlite3.connect(
            readonly_uri(path), uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S
        )
    except sqlite3.Error:
        return None
    try:
        found = db.execute(_CHECK).fetchone()
    except sqlite3.Error:
        found = None
    if found != (APPLICATION_ID, str(SCHEMA_VERSION)):
        db.close()
        return None
    return db
