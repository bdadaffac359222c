"""Resolve a machine address to VM conf files: from the inventory when it is on and filled,
else by scanning folders for conf files."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ctys.address.match import all_match, facts_of_inventory, facts_of_vm, term_matches
from ctys.address.model import (
    INVENTORY_FIELD,
    AddressKind,
    AmbiguousAddress,
    MachineAddress,
    MachineSelector,
    inventory_value,
    normalize_mac,
)
from ctys.address.scan import scan_vms
from ctys.conf.vmpath import default_base_paths
from ctys.errors import AddressError, CtysError
from ctys.pathutil import canonical_path
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.textescape import printable

if TYPE_CHECKING:
    from ctys.inventory.record import InventoryRecord
    from ctys.inventory.store import Inventory


def matches(vm: VmConfig, term: MachineAddress) -> bool:
    """Whether one VM satisfies one address term (the rule of ``ctys.address.match``)."""
    return term_matches(facts_of_vm(vm), term)


def select(vms: Sequence[VmConfig], selector: MachineSelector) -> list[VmConfig]:
    """The VMs matching every term of the selector."""
    return [vm for vm in vms if all_match(facts_of_vm(vm), selector.terms)]


def inventory_matches(inv: Inventory, terms: Sequence[MachineAddress]) -> list[InventoryRecord]:
    """The inventory rows matching every term, by the same rule as the scan. Each term
    narrows the SQL query through an index (its own clause, so a repeated key is ANDed,
    never dropped); every term is then checked on the rows found by ``ctys.address.match``."""
    clauses: list[str] = []
    params: list[str] = []
    for term in terms:
        narrowed = _narrowing(term)
        if narrowed is not None:
            clauses.append(narrowed[0])
            params.extend(narrowed[1])
    rows = inv.select(" AND ".join(clauses) or "1", params)
    return [r for r in rows if all_match(facts_of_inventory(r), terms)]


def _narrowing(term: MachineAddress) -> tuple[str, list[str]] | None:
    """An SQL condition that every row matching ``term`` meets (maybe a few more)."""
    from ctys.inventory.store import equals_clause

    kind, value = term.kind, term.value
    if kind not in INVENTORY_FIELD:
        return None  # runtime IDs are not stored: checked on the rows only
    field = INVENTORY_FIELD[kind]
    if kind is AddressKind.IP:
        # Stored as the conf wrote it, maybe with a /prefix: that value or "value/...".
        return "(tcp = ? OR (tcp >= ? AND tcp < ?))", [value, value + "/", value + "0"]
    forms = [value]
    if kind is AddressKind.MAC:
        forms = [normalize_mac(value), normalize_mac(value).replace(":", "-")]
    elif kind is AddressKind.FILENAME:
        forms = [str(Path(value).expanduser().absolute()), inventory_value(kind, value)]
    alternatives = [equals_clause(field, f) for f in dict.fromkeys(forms)]
    sql = " OR ".join(clause for clause, _ in alternatives)
    return f"({sql})", [param for _, param in alternatives]


def _describe(vm: VmConfig) -> str:
    return f"{vm.label} ({vm.conf_path})"


def _ambiguous(selector: MachineSelector, candidates: list[str]) -> AddressError:
    listing = "; ".join(candidates)
    return AmbiguousAddress(f"{selector} is ambiguous, {len(candidates)} VMs match: {listing}")


def resolve_one(
    selector: MachineSelector, inventory: Path | None = None, *, err: TextIO | None = None
) -> VmConfig:
    """Exactly one VM for the selector, else an ``AddressError`` listing what matched.

    ``F:`` alone reads that conf file; ``BASEPATH:`` folders are scanned; otherwise the
    inventory at ``inventory`` answers when it exists and holds records, and the default
    VM folders are scanned when it does not (or when ``inventory`` is ``None``: ``-C off``).
    A VM the inventory does not know (added since the last ENUMERATE) is looked for by a
    scan too; when the scan finds it, one line on ``err`` (default stderr) says so.
    """
    if selector.empty:
        raise AddressError("no machine address given (e.g. l:LABEL, UUID:..., F:/path/vm.conf)")
    terms = selector.terms
    if len(terms) == 1 and terms[0].kind is AddressKind.FILENAME and not selector.base_paths:
        path = Path(terms[0].value).expanduser()
        if not path.is_file():
            raise AddressError(f"no conf file at {path}")
        return load_vm_config(canonical_path(path))
    if not selector.base_paths and inventory is not None and inventory.is_file():
        found = _from_inventory(selector, inventory)
        if isinstance(found, VmConfig):
            return found
        if found is _MISSED:
            bases = default_base_paths()
            hint = " (not in the inventory either: run ENUMERATE to refresh it)"
            vm = _by_scan(selector, bases, hint)  # a miss here is the one error line
            where = ":".join(str(b) for b in bases)
            note = (
                f"ctys: {selector} is not in the inventory {inventory}; found by a scan of"
                f" {where} (run ENUMERATE to add it)"
            )
            print(printable(note), file=err or sys.stderr)  # escaped on any stream
            return vm
    return _by_scan(selector, selector.base_paths or default_base_paths())


def _by_scan(selector: MachineSelector, bases: Sequence[Path], extra: str = "") -> VmConfig:
    result = scan_vms(bases)
    found = select(result.vms, selector)
    if not found and (learned := _by_learned_ip(selector)) is not None:
        return learned
    if not found:
        where = ":".join(str(b) for b in bases)
        hint = f"; {len(result.errors)} conf file(s) unreadable" if result.errors else ""
        raise AddressError(f"no VM matches {selector} under {where}{hint}{extra}")
    if len(found) > 1:
        raise _ambiguous(selector, [_describe(vm) for vm in found])
    return found[0]


# ``_from_inventory``: the inventory holds records but none matched (then we scan).
_MISSED = object()


def _from_inventory(selector: MachineSelector, path: Path) -> VmConfig | object | None:
    """The VM from the inventory; ``None`` when the inventory is empty, ``_MISSED`` when no
    record matches (either way the caller scans)."""
    from ctys.inventory.settings import this_host
    from ctys.inventory.store import Inventory

    with Inventory.open_readonly(path) as inv:
        if inv.is_empty():
            return None
        records = inventory_matches(inv, selector.terms)
    if not records and (learned := _by_learned_ip(selector)) is not None:
        return learned
    if not records:
        return _MISSED
    # Multipath: one VM may be recorded once per host that can run it; prefer our own rows.
    here = this_host()
    by_vm: dict[str, list[str]] = {}
    for rec in records:
        by_vm.setdefault(rec.vm_id, [])
        if rec.host == here or rec.host in ("localhost", ""):
            by_vm[rec.vm_id].insert(0, rec.pname)
        else:
            by_vm[rec.vm_id].append(rec.pname)
    if len(by_vm) > 1:
        candidates = sorted(f"{r.label} ({r.pname} on {r.host})" for r in records)
        raise _ambiguous(selector, candidates)
    pname = next(iter(by_vm.values()))[0]
    conf = Path(pname)
    if not conf.is_file():
        raise AddressError(
            f"the inventory names {conf} for {selector}, but that file is gone (run ENUMERATE)"
        )
    try:
        return load_vm_config(conf)
    except CtysError as exc:
        raise AddressError(f"{exc} (found through the inventory)") from exc


def _by_learned_ip(selector: MachineSelector) -> VmConfig | None:
    """``IP:addr`` of a running VM whose conf has no static address: the address its guest
    agent or the neighbour table reports (see ``ctys.plugins.qemu.net.guestip``)."""
    terms = selector.terms
    if len(terms) != 1 or terms[0].kind is not AddressKind.IP:
        return None
    from ctys.plugins.qemu.net.guestip import running_vms_with_ip
    from ctys.plugins.qemu.vm.runtime import RuntimeDir

    try:
        confs = running_vms_with_ip(terms[0].value, RuntimeDir(), loader=load_vm_config)
    except CtysError:
        return None
    if len(confs) > 1:
        raise _ambiguous(selector, [str(c) for c in confs])
    return load_vm_config(confs[0]) if confs else None
