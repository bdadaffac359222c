"""The folder scan, incremental: a conf file the last scan read and that has not changed
since (same ``ctys.inventory.filecache.FileKey``) is not read again; what the scan needs
of it comes from what the last scan kept (``KnownFile``).

``rescan_vms`` makes the same decisions as a scan that reads everything: the same files in
the same order, one active master per UUID, ``MAGICID-IGNORE`` variants left out unless
asked for, broken files reported every time (they are never kept as known).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ctys.address.scan import Progress, Skipped, describe_file, unique_conf_files
from ctys.conf.found import FoundVm
from ctys.errors import CtysError
from ctys.inventory import filecache
from ctys.inventory.filecache import (
    KnownFile,
    VmFacts,
    file_key,
    is_settled,
    readers_tag,
)

if TYPE_CHECKING:
    from ctys.plugins.base import ConfReader


@dataclass(frozen=True, slots=True)
class ScannedVm:
    """A VM the scan found: its conf, its facts and, when the scan read the conf, its
    ``FoundVm`` (``None``: unchanged since the last scan, not read)."""

    path: Path
    facts: VmFacts
    found: FoundVm | None


@dataclass(frozen=True)
class Rescan:
    """``ScanResult`` of an incremental scan, plus ``known``: what the next scan may take
    as known, by path (every file read or reused that has settled and could be used)."""

    vms: tuple[ScannedVm, ...]
    errors: tuple[str, ...]
    entries: int
    warnings: tuple[str, ...]
    known: dict[str, KnownFile]


def facts_of(found: FoundVm, note: str = "") -> VmFacts:
    """What a later scan needs of ``found`` without reading its conf."""
    return VmFacts(found.stype, found.uuid or "", found.magic, found.vmstate, note)


def rescan_vms(
    base_paths: Sequence[Path],
    readers: Sequence[ConfReader],
    known: Mapping[str, KnownFile],
    *,
    include_ignored: bool = False,
    progress: Progress | None = None,
    reuse: Callable[[str, VmFacts], bool] | None = None,
    note: Callable[[FoundVm], str] | None = None,
    settle_ns: int | None = None,
) -> Rescan:
    """Scan the base paths as ``scan_vms`` does, not reading the files ``known`` holds
    unchanged. ``reuse(path, facts)``: whether the caller can do with the facts of an
    unchanged VM conf (ENUMERATE: its rows are in the inventory); if not (or no ``reuse``),
    it is read. ``note(found)``: the plugin's note kept with a VM's facts. ``settle_ns``:
    how old a file's last change must be to be remembered (``filecache.SETTLE_NS``)."""
    margin = filecache.SETTLE_NS if settle_ns is None else settle_ns
    settled_before = time.time_ns() - margin
    tag = readers_tag([reader.name for reader in readers])
    vms: list[ScannedVm] = []
    skipped = Skipped()
    errors = skipped.errors
    masters: dict[str, str] = {}
    counter = [0]
    next_known: dict[str, KnownFile] = {}
    for text, info in unique_conf_files(base_paths, counter, skipped):
        key = file_key(info)
        entry = known.get(text)
        found: FoundVm | None = None
        if (
            entry is not None
            and entry.key == key
            and (entry.facts is None or (reuse is not None and reuse(text, entry.facts)))
        ):
            facts = entry.facts
            next_known[text] = entry
        else:
            try:
                found = describe_file(Path(text), info, readers)
            except CtysError as exc:
                errors.append(str(exc))
                continue
            facts = None if found is None else facts_of(found, note(found) if note else "")
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
        vms.append(ScannedVm(Path(text), facts, found))
        if progress is not None:
            progress(counter[0], len(vms))
    if progress is not None:
        progress(counter[0], len(vms))
    return Rescan(tuple(vms), tuple(errors), counter[0], tuple(skipped.warnings), next_known)
