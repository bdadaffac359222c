"""The original's DB directory (``-p DIR``, default ``~/.ctys/db/default``): ``enum.fdb``
(the records, ``ctys.inventory.enumfdb``) and ``macmap.fdb`` (``nodename;IP;MAC`` a
line: which address and DNS name a MAC has).

ctys answers queries on such a directory from an in-memory inventory loaded from its
``enum.fdb`` (the same query engine as the SQLite store; nothing is written beside the
files), writes ``enum.fdb`` back whole (atomically) after an import or a clear, and fills
an answer's empty TCP (by MAC) and NETNAME (by TCP or MAC) from ``macmap.fdb``. The
records kept in ``enum.fdb`` are never changed by the macmap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ctys.atomicfile import write_text_atomically
from ctys.errors import CtysError
from ctys.inventory.enumfdb import FILE_NAME, FdbContent, parse_enum_fdb, write_enum_fdb
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory

MACMAP_NAME = "macmap.fdb"


def default_db_dir() -> Path:
    """The original's default DB directory, ``~/.ctys/db/default``."""
    return Path.home() / ".ctys" / "db" / "default"


def enum_fdb_path(db_dir: Path) -> Path:
    """``DIR/enum.fdb``."""
    return db_dir / FILE_NAME


def require_db_dir(db_dir: Path) -> None:
    """``CtysError`` unless ``db_dir`` is a folder (the original refuses a missing one)."""
    if not db_dir.is_dir():
        raise CtysError(f"no DB directory {db_dir} (-p names a folder with enum.fdb)")


def read_enum_fdb(path: Path) -> FdbContent:
    """The records of the ``enum.fdb`` at ``path``; none when there is no such file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return FdbContent(())
    except OSError as err:
        raise CtysError(f"cannot read {path}: {err.strerror or err}") from err
    return parse_enum_fdb(data, str(path))


def save_enum_fdb(path: Path, records: Iterable[InventoryRecord]) -> int:
    """Write ``records`` to the ``enum.fdb`` at ``path`` whole or not at all."""
    kept = list(records)
    counter = [0]

    def write(fh: TextIO) -> None:
        counter[0] = write_enum_fdb(kept, fh, str(path))

    try:
        write_text_atomically(path, write)
    except OSError as err:
        raise CtysError(f"cannot write {path}: {err.strerror or err}") from err
    return counter[0]


def store_scan_in_db_dir(
    db_dir: Path, host: str, roots: Sequence[Path], records: Iterable[InventoryRecord]
) -> int:
    """ENUMERATE with ``-p DIR``: ``host``'s records under ``roots`` in ``DIR/enum.fdb``
    replaced by ``records`` (the others kept, in their order); the file written whole."""
    require_db_dir(db_dir)
    path = enum_fdb_path(db_dir)
    with Inventory.open_memory(read_enum_fdb(path).records) as inventory:
        written = inventory.replace_scan(host, roots, records)
        save_enum_fdb(path, inventory.all())
    return written


@dataclass(frozen=True)
class MacMap:
    """``macmap.fdb``: MAC (lower case) → (nodename, IP), IP → nodename."""

    by_mac: Mapping[str, tuple[str, str]]
    name_of_ip: Mapping[str, str]

    def fill(self, record: InventoryRecord) -> InventoryRecord:
        """``record`` with an empty TCP taken from its MAC and an empty NETNAME from its
        TCP (or MAC); unchanged when the macmap knows neither."""
        entry = self.by_mac.get(record.mac.lower()) if record.mac else None
        tcp = record.tcp or (entry[1] if entry else "")
        netname = record.netname or self.name_of_ip.get(tcp, "") or (entry[0] if entry else "")
        if (tcp, netname) == (record.tcp, record.netname):
            return record
        return dataclasses.replace(record, tcp=tcp, netname=netname)


def read_macmap(path: Path) -> MacMap:
    """The ``macmap.fdb`` at ``path`` (empty when there is none). A line that is not
    ``nodename;IP;MAC`` is a ``CtysError`` naming ``path:line``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return MacMap({}, {})
    except (OSError, UnicodeDecodeError) as err:
        raise CtysError(f"cannot read {path}: {err}") from err
    by_mac: dict[str, tuple[str, str]] = {}
    name_of_ip: dict[str, str] = {}
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r").strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(";")
        if len(parts) != 3:
            raise CtysError(f"{path}:{number}: {len(parts)} fields; macmap.fdb has nodename;IP;MAC")
        name, ip, mac = (p.strip() for p in parts)
        by_mac.setdefault(mac.lower(), (name, ip))  # the first line of a MAC wins
        name_of_ip.setdefault(ip, name)
    return MacMap(by_mac, name_of_ip)


def fill_from_macmap(records: Sequence[InventoryRecord], macmap: MacMap) -> list[InventoryRecord]:
    """``records`` with what ``macmap`` knows of their MACs and addresses."""
    return [macmap.fill(record) for record in records]
