"""ENUMERATE's scan into the inventory, incremental: a conf unchanged since the last scan
(``ctys.inventory.filecache``) is not read again, its rows stay as they are; the files that
changed are read and their rows replaced, in one transaction (``Inventory.rescan``).
``-C rebuild`` reads every file again."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctys.address.rescan import AUTO_WORKERS, Reading, Rescan, rescan_vms
from ctys.address.scan import Progress
from ctys.conf.found import FoundVm
from ctys.conf.vmstate import StateFilter
from ctys.inventory.filecache import KnownFile, ScanState, ScanUpdate, VmFacts, readers_tag
from ctys.inventory.foldercache import storable
from ctys.inventory.multihome import records_per_address
from ctys.inventory.record import InventoryRecord
from ctys.inventory.settings import InventoryChoice, scanner_ids, this_host
from ctys.invocation import CacheControl
from ctys.plugins.qemu.boot.execpolicy import host_exec_note, host_exec_warning
from ctys.plugins.qemu.confs.reader import READERS, vm_config_of

# A scan root that covers every row of a host.
EVERYWHERE = Path("/")


def scan_scope(choice: InventoryChoice, roots: Sequence[Path]) -> list[Path]:
    """The folders whose stored rows a scan of ``roots`` replaces: with ``-C rebuild``,
    every row of this host."""
    return [EVERYWHERE] if choice.control is CacheControl.REBUILD else list(roots)


@dataclass(frozen=True)
class Enumerated:
    """What one ENUMERATE scan found: the records it lists (in scan order), the files it
    skipped and the folders it could not read (one line each), the entries it looked at
    and the warning lines for confs that run programs of their choice."""

    records: list[InventoryRecord]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    entries: int
    exec_warnings: list[str]


def enumerate_scan(
    choice: InventoryChoice,
    bases: Sequence[Path],
    roots: Sequence[Path],
    *,
    include_ignored: bool = False,
    progress: Progress | None = None,
    states: StateFilter,
    workers: int | None = None,
    fields: Sequence[str] | None = None,
) -> Enumerated:
    """Scan ``bases`` (``roots``: their canonical paths) and, if the inventory is on, store
    what was found as this host's rows under the roots (``-C rebuild``: every row of this
    host, every file read). ``workers``: processes reading the changed confs (default: as
    many as CPUs were idle during the walk). ``fields``: the only fields the caller uses of
    the records (the rows kept from the inventory have the others empty, so that they load
    faster); None: all."""
    host = this_host()
    fresh_only = choice.control is CacheControl.REBUILD

    def scan(state: ScanState | None) -> ScanUpdate[Enumerated]:
        if state is None:  # no inventory: nothing known, nothing kept
            known: dict[str, KnownFile] = {}
            rows: dict[str, list[InventoryRecord]] = {}
            folders = None
        else:
            known, rows, folders = state.known, state.rows, state.folders
            if fresh_only:
                known, folders = {}, {}
        return _scan(
            bases,
            (known, rows, folders),
            host,
            (include_ignored, progress, states, workers or AUTO_WORKERS),
            kept=state is not None,
        )

    if not choice.enabled or choice.path is None:
        return scan(None).result
    from ctys.inventory.store import Inventory

    choice.path.parent.mkdir(parents=True, exist_ok=True)
    scope = scan_scope(choice, roots)
    tag = readers_tag([reader.name for reader in READERS])
    with Inventory.open(choice.path) as inv:
        return inv.rescan(host, scope, tag, scan, fields=fields)


def _scan(
    bases: Sequence[Path],
    state: tuple[
        dict[str, KnownFile], dict[str, list[InventoryRecord]], Mapping[str, Sequence[Any]] | None
    ],
    host: str,
    options: tuple[bool, Progress | None, StateFilter, int],
    *,
    kept: bool,
) -> ScanUpdate[Enumerated]:
    """The scan (``kept``: into the inventory, which holds text only: a conf whose path is
    not UTF-8 is an error line there, listed when nothing is kept)."""
    known, rows, folders = state
    include_ignored, progress, states, workers = options

    def listed(facts: VmFacts) -> bool:
        return not facts.noenum and states.matches(facts.vmstate)

    def reuse(path: str, facts: VmFacts) -> bool:
        # A VM ENUMERATE lists needs its rows; one it does not list, only its facts.
        return path in rows or not listed(facts)

    now = time.time()
    uid, gid = scanner_ids()  # the original's fields 44 and 45: who scanned

    def prepare(found: FoundVm) -> list[InventoryRecord]:
        return records_per_address(found, host, now, uid=uid, gid=gid)

    reading = Reading(READERS, prepare, _note, workers=workers)
    result: Rescan[list[InventoryRecord]] = rescan_vms(
        bases,
        reading,
        known,
        include_ignored=include_ignored,
        progress=progress,
        reuse=reuse,
        folders=folders,
    )
    records: list[InventoryRecord] = []
    fresh: list[InventoryRecord] = []
    keep: set[str] = set()
    errors = list(result.errors)
    for vm in result.vms:
        if not listed(vm.facts):
            continue
        if kept and not storable(vm.pname):
            errors.append(f"{vm.pname}: its path is not UTF-8, which the inventory cannot keep")
            continue
        if vm.made is None:
            keep.add(vm.pname)
            records += rows[vm.pname]
        else:
            fresh += vm.made
            records += vm.made
    notes = [host_exec_warning(vm.path, vm.facts.note) for vm in result.vms if vm.facts.note]
    found = Enumerated(records, tuple(errors), result.warnings, result.entries, notes)
    return ScanUpdate(keep, fresh, result.known, found, result.folders)


def _note(found: FoundVm) -> str:
    return host_exec_note(vm_config_of(found))
