"""What the inventory keeps of each folder a scan listed, so that a rescan need not list a
folder again that has not changed (the ``folders`` table, schema 4; git's untracked cache
works the same way).

A folder is known by its key: (device, inode, mtime, ctime) from ``lstat``, the times in
nanoseconds. Adding, removing or renaming an entry changes the folder's mtime;
``chmod``/``chown`` and ACL changes change its ctime; a folder made anew or mounted over
has another inode. What a listing holds depends on nothing else (names and entry types),
so a folder whose key is the same as when it was listed has the same listing. The rules
that keep this exact are those of ``ctys.inventory.filecache``:

- a listing is only remembered once the folder has *settled*: its mtime and ctime lie at
  least ``filecache.SETTLE_NS`` before the scan started. An entry added in the same clock
  tick as (or after) the listing could leave the folder's times as they were; such a
  recent folder is listed again by the next scan instead.
- the key is taken *before* the folder is listed, so a change while it is listed makes the
  next scan's key differ.
- a folder the scan could not list is never remembered: it is listed (and reported) again.
- a remembered listing is used only by the same (effective) user, and only while the
  folder's mode bits let that user read it; otherwise the folder is listed, so a folder
  the scanner may not read is reported as by a full scan.

Subfolders of a folder are checked on their own (each has its key); conf files in an
unchanged folder still get their own ``stat`` (``ctys.inventory.filecache``: their content
may change without their folder's mtime moving).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence
from typing import NamedTuple

_KEY = struct.Struct("<QQqqQ")
"""A row's ``key``: st_dev, st_ino, st_mtime_ns, st_ctime_ns of the folder and the
effective uid of the scan that listed it, packed (compared as bytes, one C call)."""

# A row's ``listing``: "<entries>//<confs>//<links>//<subdirs>", names joined by "/" (no
# name holds a "/" or is empty, so "//" only ever separates the parts).
_NAMES = "/"
_PARTS = "//"

FOLDER_COLUMNS = ("host", "path", "key", "listing")


class Listing(NamedTuple):
    """What a scan takes from one folder: how many entries it has, its conf files (the
    names ``ctys.address.scan`` takes as VM confs, in name order) and which of them are
    symlinks, and its subfolders to descend into (not hidden, not symlinks; name order)."""

    entries: int
    confs: Sequence[str]
    links: frozenset[str]
    subdirs: Sequence[str]


_NO_LINKS: frozenset[str] = frozenset()


def _names(text: str) -> list[str]:
    return text.split(_NAMES) if text else []


def listing_text(listing: Listing) -> str:
    """``listing`` as a row's ``listing`` column."""
    parts = (listing.confs, sorted(listing.links), listing.subdirs)
    return _PARTS.join((str(listing.entries), *map(_NAMES.join, parts)))


def listing_of_text(text: str) -> Listing:
    """The ``Listing`` of a row's ``listing`` column."""
    entries, confs, links, subdirs = text.split(_PARTS)
    return Listing(
        int(entries),
        _names(confs),
        frozenset(_names(links)) if links else _NO_LINKS,
        _names(subdirs),
    )


class FolderCache:
    """The listings the last scan remembered (``rows``: path → (key, listing) columns;
    parsed only when used) and what this scan leaves for the next one: the folders whose
    rows stay (``kept``) and the new listings (``fresh``). ``settled_before_ns``: a folder
    that changed at or after this time is not remembered."""

    def __init__(self, rows: Mapping[str, Sequence[object]], settled_before_ns: int) -> None:
        self.rows = rows
        self.kept: set[str] = set()
        self.fresh: dict[str, tuple[bytes, Listing]] = {}
        self._settled_before = settled_before_ns
        self._uid = os.geteuid()
        self._groups = {os.getegid(), *os.getgroups()}

    def _key(self, info: os.stat_result) -> bytes:
        return _KEY.pack(info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns, self._uid)

    def get(self, path: str, info: os.stat_result) -> Listing | None:
        """The remembered listing of the folder at ``path`` (``info``: its ``lstat``), or
        None when it must be listed."""
        row = self.rows.get(path)
        if row is None or row[0] != self._key(info) or not self._may_list(info):
            return None
        self.kept.add(path)
        return listing_of_text(str(row[1]))

    def put(self, path: str, info: os.stat_result, listing: Listing) -> None:
        """``listing`` was made of the folder at ``path`` (``info``: its ``lstat`` from
        before the listing); remembered if the folder has settled."""
        if max(info.st_mtime_ns, info.st_ctime_ns) < self._settled_before:
            self.fresh[path] = (self._key(info), listing)

    def to_rows(self, host: str) -> list[tuple[str, str, bytes, str]]:
        """The ``folders`` rows of the fresh listings (``FOLDER_COLUMNS``). A folder whose
        path or names are not UTF-8 (undecodable bytes) is not remembered."""
        rows: list[tuple[str, str, bytes, str]] = []
        for path, (key, listing) in self.fresh.items():
            text = listing_text(listing)
            if not storable(path + text):
                continue
            rows.append((host, path, key, text))
        return rows

    def _may_list(self, info: os.stat_result) -> bool:
        """Whether the mode bits let this user read the folder (root reads every one)."""
        if self._uid == 0:
            return True
        if info.st_uid == self._uid:
            return bool(info.st_mode & 0o400)
        if info.st_gid in self._groups:
            return bool(info.st_mode & 0o040)
        return bool(info.st_mode & 0o004)


def storable(text: str) -> bool:
    """Whether the inventory (SQLite text) can keep ``text``: a file name with bytes that
    are not UTF-8 comes from ``os`` with surrogate escapes, which no text column holds."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
