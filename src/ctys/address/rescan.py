"""The folder scan, incremental: a conf file the last scan read and that has not changed
since (same ``ctys.inventory.filecache.FileKey``) is not read again; what the scan needs
of it comes from what the last scan kept (``KnownFile``).

``rescan_vms`` makes the same decisions as a scan that reads everything: the same files in
the same order, one active master per UUID, ``MAGICID-IGNORE`` variants left out unless
asked for, broken files reported every time (they are never kept as known).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ctys.address.scan import Progress, Skipped, describe_file, unique_conf_files
from ctys.conf.found import FoundVm
from ctys.errors import CtysError
from ctys.inventory import filecache
from ctys.inventory.filecache import (
    FileKey,
    KnownFile,
    VmFacts,
    file_key,
    is_settled,
    readers_tag,
)
from ctys.inventory.foldercache import FolderCache

if TYPE_CHECKING:
    from ctys.plugins.base import ConfReader

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScannedVm(Generic[T]):
    """A VM the scan found: its conf (``pname``, as text: no ``Path`` made for each of
    thousands), its facts and, when the scan read the conf, what the caller's ``prepare``
    made of its ``FoundVm`` (``None``: unchanged since the last scan, not read)."""

    pname: str
    facts: VmFacts
    made: T | None

    @property
    def path(self) -> Path:
        """The conf's path."""
        return Path(self.pname)


@dataclass(frozen=True)
class Rescan(Generic[T]):
    """``ScanResult`` of an incremental scan, plus ``known``: what the next scan may take
    as known, by path (every file read or reused that has settled and could be used)."""

    vms: tuple[ScannedVm[T], ...]
    errors: tuple[str, ...]
    entries: int
    warnings: tuple[str, ...]
    known: dict[str, KnownFile]
    folders: FolderCache | None = None


def facts_of(found: FoundVm, note: str = "") -> VmFacts:
    """What a later scan needs of ``found`` without reading its conf."""
    return VmFacts(found.stype, found.uuid or "", found.magic, found.vmstate, note)


@dataclass(frozen=True)
class Reading(Generic[T]):
    """How the files that must be read are turned into what the caller keeps: ``prepare``
    of each ``FoundVm``, ``note`` (the plugin's note kept with its facts). ``workers`` > 1:
    that many processes share the reading when there are at least ``PARALLEL_FROM`` files
    (``prepare``'s results must then pickle; a ``FoundVm`` does not); ``AUTO_WORKERS``:
    as many as there were idle CPUs during the walk (``parallelread.workers_since``)."""

    readers: Sequence[ConfReader]
    prepare: Callable[[FoundVm], T]
    note: Callable[[FoundVm], str] | None = None
    workers: int = 1


AUTO_WORKERS = 0
"""``Reading.workers``: decided after the walk, by the CPUs that were idle during it."""

# Below this many files to read, starting processes costs more than it saves.
PARALLEL_FROM = 2000
# (facts or None, made) of a file read, or the one-line error of one that failed.
_Read = tuple[VmFacts | None, object] | str


def rescan_vms(
    base_paths: Sequence[Path],
    reading: Reading[T],
    known: Mapping[str, KnownFile],
    *,
    include_ignored: bool = False,
    progress: Progress | None = None,
    reuse: Callable[[str, VmFacts], bool] | None = None,
    settle_ns: int | None = None,
    folders: Mapping[str, Sequence[Any]] | None = None,
) -> Rescan[T]:
    """Scan the base paths as ``scan_vms`` does, not reading the files ``known`` holds
    unchanged. ``reuse(path, facts)``: whether the caller can do with the facts of an
    unchanged VM conf (ENUMERATE: its rows are in the inventory); if not (or no ``reuse``),
    it is read. ``settle_ns``: how old a file's last change must be to be remembered
    (``filecache.SETTLE_NS``). ``folders``: the folder listings the last scan left (rows
    by path, ``ctys.inventory.foldercache``); with it, unchanged folders are not listed
    again and the result's ``folders`` holds what the next scan may use.

    First the walk, in which the known files are recognised; then the others are read
    (``reading``, maybe in parallel); then the decisions, in walk order."""
    margin = filecache.SETTLE_NS if settle_ns is None else settle_ns
    settled_before = time.time_ns() - margin
    tag = readers_tag([reader.name for reader in reading.readers])
    skipped = Skipped()
    counter = [0]
    # The walk: each file with what is known of it, the walk's own errors in their place.
    walked: list[tuple[str, FileKey, KnownFile | None] | str] = []
    todo: list[tuple[str, os.stat_result]] = []
    told = 0
    cache = None if folders is None else FolderCache(folders, settled_before)
    ticks = _ticks_if_auto(reading)
    for text, info in unique_conf_files(base_paths, counter, skipped, cache):
        while told < len(skipped.errors):
            walked.append(skipped.errors[told])
            told += 1
        key = file_key(info)
        entry = known.get(text)
        if (
            entry is not None
            and entry.key == key
            and (entry.facts is None or (reuse is not None and reuse(text, entry.facts)))
        ):
            walked.append((text, key, entry))
        else:
            walked.append((text, key, None))
            todo.append((text, info))
        if progress is not None and len(walked) % 1024 == 0:
            progress(counter[0], 0)
    walked += skipped.errors[told:]
    read = _read_all(todo, reading, ticks)
    vms: list[ScannedVm[T]] = []
    errors: list[str] = []
    masters: dict[str, str] = {}
    next_known: dict[str, KnownFile] = {}
    for item in walked:
        if isinstance(item, str):
            errors.append(item)
            continue
        text, key, entry = item
        made: T | None = None
        if entry is not None:
            facts = entry.facts
            next_known[text] = entry
        else:
            outcome = read[text]
            if isinstance(outcome, str):
                errors.append(outcome)
                continue
            facts, made = outcome  # type: ignore[assignment]
            if is_settled(key, settled_before):
                next_known[text] = KnownFile(key, tag, facts)
        if facts is None or (facts.ignored and not include_ignored):
            continue
        if facts.uuid and not facts.ignored:
            uuid = facts.uuid.lower()
            if uuid in masters:
                errors.append(
                    f"{text}: UUID {facts.uuid} is already active in {masters[uuid]};"
                    " mark one variant #@#MAGICID-IGNORE"
                )
                continue
            masters[uuid] = text
        vms.append(ScannedVm(text, facts, made))
        if progress is not None:
            progress(counter[0], len(vms))
    if progress is not None:
        progress(counter[0], len(vms))
    warnings = tuple(skipped.warnings)
    return Rescan(tuple(vms), tuple(errors), counter[0], warnings, next_known, cache)


def _ticks_if_auto(reading: Reading[T]) -> tuple[int, int] | None:
    """The CPU ticks before the walk, when the walk decides how many processes read."""
    if reading.workers != AUTO_WORKERS:
        return None
    from ctys.address.parallelread import cpu_ticks

    return cpu_ticks()


def _read_all(
    todo: list[tuple[str, os.stat_result]],
    reading: Reading[T],
    ticks: tuple[int, int] | None = None,
) -> dict[str, _Read]:
    """What reading each file of ``todo`` gives, by path (``ticks``: ``_ticks_if_auto``)."""
    if len(todo) >= PARALLEL_FROM and reading.workers != 1:
        from ctys.address.parallelread import read_in_workers, workers_since

        if reading.workers == AUTO_WORKERS:
            reading = replace(reading, workers=workers_since(ticks))
        if reading.workers > 1:
            return read_in_workers(todo, reading, _read_chunk)
    return dict(_read_chunk(todo, reading))


def _read_chunk(
    todo: Sequence[tuple[str, os.stat_result]], reading: Reading[T]
) -> list[tuple[str, _Read]]:
    done: list[tuple[str, _Read]] = []
    prepare, note = reading.prepare, reading.note
    for text, info in todo:
        try:
            found = describe_file(Path(text), info, reading.readers)
        except CtysError as exc:
            done.append((text, str(exc)))
            continue
        if found is None:
            done.append((text, (None, None)))
        else:
            done.append((text, (facts_of(found, note(found) if note else ""), prepare(found))))
    return done
