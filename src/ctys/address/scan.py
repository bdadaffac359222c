"""Find VM conf files by walking folders (resolution without an inventory, and ENUMERATE).

A conf file (``NAME.conf``, or a 01.11 ``NAME.ctys``) is a VM of the plugin whose marker
(``ConfReader.magic_id``, e.g. ``MAGICID-XEN``) it carries; that plugin describes it
(``ConfReader.describe``) as a ``ctys.conf.found.FoundVm``. The scan is handed the plugins
whose VMs it looks for.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ctys.conf.found import FoundVm
from ctys.conf.lenient import parse_vm_conf_text
from ctys.conf.parser import (
    MAX_CONF_BYTES,
    check_conf_bytes,
    decode_conf_bytes,
    read_conf_bytes,
    read_conf_text,
)
from ctys.errors import ConfError, CtysError
from ctys.inventory.foldercache import FolderCache, Listing
from ctys.pathutil import real_path

if TYPE_CHECKING:
    from ctys.plugins.base import ConfReader

# The names of VM conf files: NAME.conf (01.07, ctys) and NAME.ctys (01.11).
CONF_SUFFIXES = (".conf", ".ctys")
# Called with (files seen, VMs found) while a scan runs.
Progress = Callable[[int, int], None]


def iter_conf_stats(
    base: Path,
    seen: list[int] | None = None,
    skipped: Skipped | None = None,
    folders: FolderCache | None = None,
) -> Iterator[tuple[str, os.stat_result]]:
    """Every VM conf file (``*.conf``, and 01.11's ``*.ctys``: ``vm_conf_names``) under
    ``base`` (``base`` itself when it is a file), depth first in name order, as text (no
    ``Path`` objects for the thousands of files a scan passes over), with its ``stat`` (of
    the target for a symlink). Hidden folders are skipped, symlinked folders are not
    followed (no loops). ``seen[0]`` counts directory entries looked at. Folders that
    cannot be read and conf symlinks that loop or dangle are passed over, each told to
    ``skipped``; files gone since their folder was listed are left out.

    ``folders``: the listings of the last scan; a folder whose key is unchanged is not
    listed again (``ctys.inventory.foldercache``), and the new listings are left in it."""
    if base.is_file():
        with contextlib.suppress(OSError):
            yield str(base), base.stat()
        return
    stack = [str(base)]
    while stack:
        folder = stack.pop()
        listing: Listing | None = None
        info: os.stat_result | None = None
        if folders is not None:
            try:
                info = os.lstat(folder)  # before the listing: a change meanwhile is seen
            except OSError:
                pass  # listing it says what is wrong
            else:
                listing = folders.get(folder, info)
        if listing is None:
            listing = list_folder(folder, skipped)
            if listing is None:
                continue
            if folders is not None and info is not None and stat.S_ISDIR(info.st_mode):
                folders.put(folder, info, listing)
        if seen is not None:
            seen[0] += listing.entries
        prefix = folder if folder.endswith("/") else folder + "/"
        links = listing.links
        for name in listing.confs:
            path = prefix + name
            if links and name in links:
                try:
                    # One VM, one path: a symlinked conf is known by its target.
                    real = real_path(Path(path))
                    yield str(real), real.stat()
                except OSError as err:
                    if skipped is not None:
                        skipped.file(path, err)
                continue
            try:
                conf_info = os.lstat(path)
            except OSError:
                continue  # gone since the folder was listed
            yield path, conf_info
        stack.extend([prefix + name for name in reversed(listing.subdirs)])


def list_folder(folder: str, skipped: Skipped | None = None) -> Listing | None:
    """What a scan takes from ``folder`` (``foldercache.Listing``); None (told to
    ``skipped``) when it cannot be listed."""
    confs: list[str] = []
    links: list[str] = []
    subdirs: list[str] = []
    count = 0
    try:
        with os.scandir(folder) as it:
            for entry in it:
                count += 1
                name = entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not name.startswith("."):
                            subdirs.append(name)
                    elif name.endswith(CONF_SUFFIXES):
                        if entry.is_symlink():
                            links.append(name)
                        confs.append(name)
                except OSError:
                    continue
    except OSError as err:
        if skipped is not None:
            skipped.folder(folder, err)
        return None
    # Only the few hits are sorted, not every entry: the order is the same (a folder's
    # conf files first, then its subfolders, each in name order).
    confs = vm_conf_names(confs)
    confs.sort()
    subdirs.sort()
    return Listing(count, confs, frozenset(links), subdirs)


def vm_conf_names(names: list[str]) -> list[str]:
    """Of a folder's ``*.conf`` and ``*.ctys`` files, the ones holding a VM's keys: every
    ``NAME.conf`` (01.07, and what ctys writes), and ``NAME.ctys`` when no ``NAME.conf``
    sits beside it (01.11; beside a ``NAME.conf`` it is the 01.07 wrapper script)."""
    if not any(name.endswith(".ctys") for name in names):
        return names
    stems = {name[: -len(".conf")] for name in names if name.endswith(".conf")}
    return [name for name in names if name.endswith(".conf") or name[: -len(".ctys")] not in stems]


class Skipped:
    """What a scan passed over: conf files that could not be read (``errors``, one line
    each) and folders it could not look into (``warnings``)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def file(self, path: str, err: OSError) -> None:
        """A ``*.conf`` entry that cannot be opened (a symlink that loops or dangles)."""
        self.errors.append(f"{path}: {err.strerror or err}")

    def folder(self, path: str, err: OSError) -> None:
        """A folder (or base path) that cannot be listed."""
        self.warnings.append(f"cannot read folder {path}: {err.strerror or err}")


def describe_file(
    path: Path, info: os.stat_result, readers: Sequence[ConfReader]
) -> FoundVm | None:
    """The VM of the conf file at ``path`` (``info``: its ``stat``) carrying the marker of
    one of ``readers`` (the first such reader describes it); ``None`` for other ``.conf``
    files. Broken confs of a reader, files over ``MAX_CONF_BYTES`` (never read, so maybe a
    VM conf), binary or non-UTF-8 files raise ``ConfError`` with file:line.

    One read; the markers are looked for in the bytes, so a file that is no VM conf is
    never decoded or parsed."""
    where = str(path)
    if info.st_size > MAX_CONF_BYTES:
        raise ConfError(where, 0, f"larger than {MAX_CONF_BYTES} bytes, not read")
    if not stat.S_ISREG(info.st_mode):
        raise ConfError(where, 0, "not a regular file")
    data = read_conf_bytes(path, info.st_size)
    for reader in readers:
        if reader.magic_id.encode() in data:
            raw, lines = parse_vm_conf_text(decode_conf_bytes(data, where), path)
            return reader.describe(raw, lines)
    check_conf_bytes(data, where)
    return None


def describe_conf(path: Path, readers: Sequence[ConfReader]) -> FoundVm:
    """The VM of the conf file at ``path`` that an address or the inventory named: described
    by the reader whose marker it carries, else by the first reader (a conf named by its
    path need not carry a marker). Every failure is a ``ConfError``."""
    if not readers:
        raise ConfError(str(path), 0, "no plugin was asked to read it")
    text = read_conf_text(path)
    reader = next((r for r in readers if r.magic_id in text), readers[0])
    raw, lines = parse_vm_conf_text(text, path)
    return reader.describe(raw, lines)


@dataclass(frozen=True)
class ScanResult:
    """VMs found, conf files that could not be read (each with its one-line error), how
    many directory entries the scan looked at, and folders it could not look into (missing
    or unreadable base paths and folders, one line each)."""

    vms: tuple[FoundVm, ...]
    errors: tuple[str, ...]
    entries: int = 0
    warnings: tuple[str, ...] = ()


def scan_vms(
    base_paths: Sequence[Path],
    readers: Sequence[ConfReader],
    *,
    include_ignored: bool = False,
    progress: Progress | None = None,
) -> ScanResult:
    """Describe every conf of ``readers`` under the base paths. Broken files become error
    lines, the scan goes on. ``MAGICID-IGNORE`` variants are left out unless asked for; of
    two active confs with one UUID only the first is kept (one active master per VM), the
    other reported."""
    from ctys.address.rescan import Reading, rescan_vms

    reading = Reading(readers, _itself)
    scan = rescan_vms(base_paths, reading, {}, include_ignored=include_ignored, progress=progress)
    vms = tuple(vm.made for vm in scan.vms if vm.made is not None)  # all of them: nothing known
    return ScanResult(vms, scan.errors, scan.entries, scan.warnings)


def _itself(found: FoundVm) -> FoundVm:
    return found


def require_base_paths(base_paths: Sequence[Path]) -> None:
    """``CtysError`` naming the first of the (explicitly given) base paths that does not
    exist or cannot be reached; a default folder that is missing is only a warning."""
    for base in base_paths:
        try:
            real_path(base)
        except FileNotFoundError:
            raise CtysError(f"BASEPATH {base} does not exist") from None
        except OSError as err:
            raise CtysError(f"BASEPATH {base}: {err.strerror or err}") from None


def unique_conf_files(
    base_paths: Sequence[Path],
    counter: list[int],
    skipped: Skipped,
    folders: FolderCache | None = None,
) -> Iterator[tuple[str, os.stat_result]]:
    """The conf files under every base path, each once, with their ``stat``
    (``folders``: see ``iter_conf_stats``)."""
    seen: set[str] = set()
    for base in base_paths:
        try:
            real = real_path(base)
        except FileNotFoundError:
            skipped.warnings.append(f"VM folder {base} does not exist")
            continue
        except OSError as err:
            skipped.folder(str(base), err)
            continue
        for path, info in iter_conf_stats(real, counter, skipped, folders):
            if path not in seen:
                seen.add(path)
                yield path, info
