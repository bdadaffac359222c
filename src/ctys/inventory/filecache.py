"""What the inventory knows of each conf file a scan looked at, so that a rescan need not
read a file that has not changed (the ``files`` table, schema 3).

A file is known by its ``FileKey``: (device, inode, size, mtime, ctime) from ``stat``, the
times in nanoseconds. Any write changes mtime and ctime; a rename onto it changes the inode;
``chmod``/``chown``/``touch -d`` change ctime. A file whose key is the same as at the last
scan is taken as unchanged. Two rules keep that exact:

- a file is only remembered once it has *settled*: its mtime and ctime lie at least
  ``SETTLE_NS`` before the scan started. A file written in the same clock tick as (or after)
  the scan's read could be changed again without its times moving; it is read again by the
  next scan instead (filesystem times are coarse: a kernel tick, 1-2 s on FAT or some NFS).
- files the scan could not use (broken, unreadable) are not remembered: they are read again
  and reported every time.

What is kept of a VM conf is ``VmFacts``: what the scan's decisions need (the one active
master per UUID, ``MAGICID-IGNORE``/``-NOENUM``, ``VMSTATE``) and its plugin's note; its
records stay in the ``records`` table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ctys.conf.found import Marked
from ctys.inventory.record import InventoryRecord

if TYPE_CHECKING:
    from ctys.inventory.foldercache import FolderCache

T = TypeVar("T")

FileKey = tuple[int, int, int, int, int]
"""(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) of a conf file."""

SETTLE_NS = 2_000_000_000
"""How long before a scan a file's last change must lie for the scan to remember it."""


def file_key(info: os.stat_result) -> FileKey:
    """The ``FileKey`` of a ``stat`` result."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def is_settled(key: FileKey, settled_before_ns: int) -> bool:
    """Whether the file of ``key`` last changed before ``settled_before_ns`` (see module)."""
    return max(key[3], key[4]) < settled_before_ns


@dataclass(frozen=True, slots=True)
class VmFacts(Marked):
    """What a scan needs of a VM conf it does not read again: its plugin (``stype``), UUID,
    markers, ``VMSTATE`` and the plugin's ``note`` (e.g. what runs a program of the
    conf's choice, for ENUMERATE's warning line)."""

    stype: str
    uuid: str = ""
    magic: frozenset[str] = frozenset()
    vmstate: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class KnownFile:
    """A conf file as the last scan left it: its key and, for a VM conf, its facts.
    ``facts`` is None for a file that holds no VM of the plugins in ``readers`` (their
    names, joined by ``,``: a scan for other plugins must look again)."""

    key: FileKey
    readers: str
    facts: VmFacts | None = None


def readers_tag(names: list[str] | tuple[str, ...]) -> str:
    """The ``KnownFile.readers`` of a scan for the plugins ``names``."""
    return ",".join(sorted(names))


# How a KnownFile is one row of the files table: ``kind`` is "<readers>:<stype>" for a VM
# conf, "<readers>:" for a file that is none of theirs; ``magic`` the markers joined by spaces.
FILE_COLUMNS = (
    "host", "path", "dev", "ino", "size", "mtime_ns", "ctime_ns",
    "kind", "uuid", "magic", "vmstate", "note",
)  # fmt: skip


def known_to_row(host: str, path: str, known: KnownFile) -> tuple[str | int, ...]:
    """The ``files`` row of ``known`` (``FILE_COLUMNS``)."""
    facts = known.facts
    if facts is None:
        return (host, path, *known.key, f"{known.readers}:", "", "", "", "")
    magic = " ".join(sorted(facts.magic))
    kind = f"{known.readers}:{facts.stype}"
    return (host, path, *known.key, kind, facts.uuid, magic, facts.vmstate, facts.note)


class RowReader:
    """Turns ``files`` rows (``FILE_COLUMNS`` without host and path) into the
    ``KnownFile``s a scan by ``readers`` can use; None for a row made by a scan for other
    plugins (the file is read again). Markers sets are shared between rows."""

    def __init__(self, readers: str) -> None:
        self.readers = readers
        self._magic: dict[str, frozenset[str]] = {}

    def known(self, row: Sequence[Any]) -> KnownFile | None:
        dev, ino, size, mtime, ctime, kind, uuid, magic, vmstate, note = row
        tag, _, stype = kind.rpartition(":")
        if tag != self.readers:
            return None
        key = (dev, ino, size, mtime, ctime)
        if not stype:
            return KnownFile(key, tag)
        markers = self._magic.get(magic)
        if markers is None:
            markers = self._magic[magic] = frozenset(magic.split())
        return KnownFile(key, tag, VmFacts(stype, uuid, markers, vmstate, note))


@dataclass(frozen=True)
class ScanUpdate(Generic[T]):
    """What an incremental scan writes (``Inventory.rescan``): the conf paths whose rows
    stay as they are (``keep``), the rows of the files it read (``fresh``), what the next
    scan may take as known (``known``, by path), its own ``result``, and the folder
    listings it used and made (``folders``; None: the folders table stays as it is)."""

    keep: Set[str]
    fresh: list[InventoryRecord]
    known: dict[str, KnownFile]
    result: T
    folders: FolderCache | None = None


@dataclass(frozen=True)
class ScanState:
    """What the inventory holds for an incremental scan (``Inventory.rescan``): the paths
    of the files table under the scan's roots (``listed``), what of them the scan's
    plugins can use (``known``), this host's rows there by conf path (``rows``, in row
    order) and the folder listings (``folders``: ``foldercache.FOLDER_COLUMNS`` after host
    and path, by path)."""

    listed: list[str]
    known: dict[str, KnownFile]
    rows: dict[str, list[InventoryRecord]]
    folders: Mapping[str, Sequence[Any]]
