"""Resolve a machine address to VM conf files: from the inventory when it is on and filled,
else by scanning folders for conf files. The caller hands the plugins whose VMs it names
(``ctys.plugins.base.ConfReader``): their confs are scanned, their inventory rows answer,
and they are asked for the running VMs whose guests reported an ``IP:`` address."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ctys.address.match import all_match, facts_of_found, facts_of_inventory, term_matches
from ctys.address.model import (
    CONF_PATH_KINDS,
    INVENTORY_FIELD,
    AddressKind,
    AmbiguousAddress,
    MachineAddress,
    MachineSelector,
    inventory_value,
    normalize_mac,
)
from ctys.address.scan import describe_conf, scan_vms
from ctys.conf.found import FoundVm
from ctys.conf.vmpath import default_base_paths
from ctys.errors import AddressError, CtysError
from ctys.pathutil import canonical_path
from ctys.textescape import printable

if TYPE_CHECKING:
    from ctys.inventory.record import InventoryRecord
    from ctys.inventory.store import Inventory
    from ctys.plugins.base import ConfReader


def matches(vm: FoundVm, term: MachineAddress) -> bool:
    """Whether one VM satisfies one address term (the rule of ``ctys.address.match``)."""
    return term_matches(facts_of_found(vm), term)


def select(vms: Sequence[FoundVm], selector: MachineSelector) -> list[FoundVm]:
    """The VMs matching every term of the selector."""
    return [vm for vm in vms if all_match(facts_of_found(vm), selector.terms)]


def inventory_matches(inv: Inventory, terms: Sequence[MachineAddress]) -> list[InventoryRecord]:
    """The inventory rows matching every term, by the same rule as the scan. Each term
    narrows the SQL query through an index (its own clause, so a repeated key is ANDed,
    never dropped); every term is then checked on the rows found by ``ctys.address.match``.
    ``DBRECORD:<n>`` selects the row at position ``n`` (1-based, inventory order)."""
    clauses: list[str] = []
    params: list[str | int] = []
    positions = {int(t.value) for t in terms if t.kind is AddressKind.DBRECORD}
    for term in terms:
        narrowed = _narrowing(term)
        if narrowed is not None:
            clauses.append(narrowed[0])
            params.extend(narrowed[1])
    if len(positions) > 1:
        return []  # one record cannot be at two positions
    position = next(iter(positions), None)
    if position is not None:
        clauses.append("idx = ?")
        params.append(position)
    where = " AND ".join(clauses) or "1"
    rows = inv.select(where, params, numbered=position is not None)
    return [r for r in rows if all_match(facts_of_inventory(r, position), terms)]


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
    elif field == "pname":
        forms = [str(Path(value).expanduser().absolute()), inventory_value(kind, value)]
    alternatives = [equals_clause(field, f) for f in dict.fromkeys(forms)]
    sql = " OR ".join(clause for clause, _ in alternatives)
    params = [param for _, param in alternatives]
    if kind is AddressKind.FILENAME:
        sql += " OR instr(pname, ?) > 0"  # a part of the full path
        params.append(value)
    return f"({sql})", params


# Terms a conf found through the inventory must still satisfy. MAC and IP are left to the
# inventory: a VM with several interfaces has a record per address, its conf one primary.
_CONF_CHECKED = frozenset(
    {AddressKind.LABEL, AddressKind.UUID, AddressKind.PATHNAME, AddressKind.ID,
     AddressKind.FILENAME}
)  # fmt: skip


def check_agrees(vm: FoundVm, selector: MachineSelector, source: str) -> FoundVm:
    """``vm`` when the conf agrees with every LABEL, UUID and path term of ``selector``
    (the original's check that the address given agrees with the conf found), else an
    ``AddressError`` naming the terms it contradicts."""
    facts = facts_of_found(vm)
    wrong = [t for t in selector.terms if t.kind in _CONF_CHECKED and not term_matches(facts, t)]
    if not wrong:
        return vm
    now = f"label {vm.label!r}" + (f", UUID {vm.uuid}" if vm.uuid else "")
    raise AddressError(
        f"{source} names {vm.conf_path} for {selector}, but that conf does not agree with"
        f" {','.join(str(t) for t in wrong)} (it says {now}; run ENUMERATE)"
    )


def _describe(vm: FoundVm) -> str:
    return f"{vm.label} ({vm.conf_path})"


def _ambiguous(
    selector: MachineSelector, candidates: list[str], confs: Sequence[str | Path] = ()
) -> AddressError:
    listing = "; ".join(candidates)
    matches = tuple(dict.fromkeys(f"P:{conf}" for conf in confs))
    return AmbiguousAddress(
        f"{selector} is ambiguous, {len(candidates)} VMs match: {listing}"
        + (" (-A acts on all of them)" if matches else ""),
        matches,
    )


# -c ON,ONLY: addresses are resolved from the inventory alone, never by a scan. Set for one
# command by ``inventory_only`` (the entry point reads -c); the plugins' calls of
# ``resolve_one`` need not pass it through.
_INVENTORY_ONLY: ContextVar[bool] = ContextVar("inventory_only", default=False)


@contextmanager
def inventory_only(enabled: bool) -> Iterator[None]:
    """Within the block, ``resolve_one`` answers from the inventory only (``-c ON,ONLY``)."""
    token = _INVENTORY_ONLY.set(enabled)
    try:
        yield
    finally:
        _INVENTORY_ONLY.reset(token)


def _only_error(selector: MachineSelector, why: str) -> AddressError:
    return AddressError(f"{selector}: {why} (-c ON,ONLY: the cacheDB alone, no scan)")


def resolve_one(
    selector: MachineSelector,
    inventory: Path | None = None,
    *,
    readers: Sequence[ConfReader],
    err: TextIO | None = None,
) -> FoundVm:
    """Exactly one VM of ``readers`` (the plugins asked, see the module) for the selector,
    else an ``AddressError`` listing what matched.

    ``P:``/``ID:`` alone (or ``F:`` naming an existing file) reads that conf file;
    ``DBRECORD:`` takes the inventory record at that position; ``F:`` otherwise is a
    pattern on the full path; ``BASEPATH:`` folders are scanned; otherwise the
    inventory at ``inventory`` answers when it exists and holds records, and the default
    VM folders are scanned when it does not (or when ``inventory`` is ``None``: ``-C off``).
    A VM the inventory does not know (added since the last ENUMERATE) is looked for by a
    scan too; when the scan finds it, one line on ``err`` (default stderr) says so.
    """
    if selector.empty:
        raise AddressError("no machine address given (e.g. l:LABEL, UUID:..., F:/path/vm.conf)")
    terms = selector.terms
    direct = _conf_named(selector)
    if direct is not None:
        return describe_conf(direct, readers)
    if any(t.kind is AddressKind.DBRECORD for t in terms):
        return _by_dbrecord(selector, inventory, readers)
    only = _INVENTORY_ONLY.get()
    if only and selector.base_paths:
        raise _only_error(selector, "BASEPATH asks for a scan of folders")
    if only and (inventory is None or not inventory.is_file()):
        raise _only_error(selector, f"no inventory at {inventory} (run ENUMERATE)")
    if not selector.base_paths and inventory is not None and inventory.is_file():
        found = _from_inventory(selector, inventory, readers)
        if isinstance(found, FoundVm):
            return found
        if only:
            what = "not in the inventory" if found is _MISSED else "the inventory is empty"
            raise _only_error(selector, f"{what} {inventory} (run ENUMERATE)")
        if found is _MISSED:
            bases = default_base_paths([r.vm_home for r in readers])
            hint = " (not in the inventory either: run ENUMERATE to refresh it)"
            vm = _by_scan(selector, bases, readers, hint)  # a miss here is the one error line
            where = ":".join(str(b) for b in bases)
            note = (
                f"ctys: {selector} is not in the inventory {inventory}; found by a scan of"
                f" {where} (run ENUMERATE to add it)"
            )
            print(printable(note), file=err or sys.stderr)  # escaped on any stream
            return vm
    return _by_scan(
        selector, selector.base_paths or default_base_paths([r.vm_home for r in readers]), readers
    )


def _conf_named(selector: MachineSelector) -> Path | None:
    """The conf file a lone path term names: ``P:``/``ID:`` (an error if there is no such
    file) or ``F:`` when it is an existing file (else ``F:`` is a pattern)."""
    terms = selector.terms
    if len(terms) != 1 or selector.base_paths:
        return None
    kind, value = terms[0].kind, terms[0].value
    if kind not in CONF_PATH_KINDS and kind is not AddressKind.FILENAME:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        return canonical_path(path)
    if kind is AddressKind.FILENAME:
        return None
    raise AddressError(f"no conf file at {path}")


def _by_dbrecord(
    selector: MachineSelector, inventory: Path | None, readers: Sequence[ConfReader]
) -> FoundVm:
    """``DBRECORD:<n>`` (with any other terms): the inventory's record at position n."""
    from ctys.inventory.store import Inventory

    if inventory is None or not inventory.is_file():
        raise AddressError(f"{selector}: DBRECORD needs the inventory (run ENUMERATE)")
    with Inventory.open_readonly(inventory) as inv:
        records = inventory_matches(inv, selector.terms)
    if not records:
        raise AddressError(f"no inventory record matches {selector} in {inventory}")
    record = records[0]  # one position: one record
    by_type = {reader.name: reader for reader in readers}
    if record.stype and record.stype not in by_type:
        raise AddressError(f"{selector} is a {record.stype} record, not a VM of this plugin")
    conf = Path(record.pname)
    if not conf.is_file():
        raise AddressError(
            f"the inventory names {conf} for {selector}, but that file is gone (run ENUMERATE)"
        )
    vm = describe_conf(conf, [by_type[record.stype]] if record.stype else readers)
    return check_agrees(vm, selector, f"inventory record {record_position(selector)}")


def record_position(selector: MachineSelector) -> str:
    """The ``DBRECORD`` value of ``selector`` (for messages)."""
    return next((t.value for t in selector.terms if t.kind is AddressKind.DBRECORD), "")


def _by_scan(
    selector: MachineSelector,
    bases: Sequence[Path],
    readers: Sequence[ConfReader],
    extra: str = "",
) -> FoundVm:
    result = scan_vms(bases, readers)
    found = select(result.vms, selector)
    if not found and (learned := _by_learned_ip(selector, readers)) is not None:
        return learned
    if not found:
        where = ":".join(str(b) for b in bases)
        hint = f"; {len(result.errors)} conf file(s) unreadable" if result.errors else ""
        raise AddressError(f"no VM matches {selector} under {where}{hint}{extra}")
    if len(found) > 1:
        raise _ambiguous(selector, [_describe(vm) for vm in found], [v.conf_path for v in found])
    return found[0]


# ``_from_inventory``: the inventory holds records but none matched (then we scan).
_MISSED = object()


def _from_inventory(
    selector: MachineSelector, path: Path, readers: Sequence[ConfReader]
) -> FoundVm | object | None:
    """The VM from the inventory rows of ``readers``' session types (or of none: an imported
    cacheDB row may have no STYPE); ``None`` when the inventory is empty, ``_MISSED`` when no
    such row matches (either way the caller scans)."""
    from ctys.inventory.settings import this_host
    from ctys.inventory.store import Inventory

    with Inventory.open_readonly(path) as inv:
        records = inventory_matches(inv, selector.terms)
        # (An empty inventory matches nothing: asked only then, one statement less.)
        if not records and inv.is_empty():
            return None
    by_type = {reader.name: reader for reader in readers}
    records = [rec for rec in records if rec.stype in by_type or not rec.stype]
    if not records and (learned := _by_learned_ip(selector, readers)) is not None:
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
        raise _ambiguous(selector, candidates, [paths[0] for paths in by_vm.values()])
    pname = next(iter(by_vm.values()))[0]
    stype = next(rec.stype for rec in records if rec.pname == pname)
    conf = Path(pname)
    if not conf.is_file():
        raise AddressError(
            f"the inventory names {conf} for {selector}, but that file is gone (run ENUMERATE)"
        )
    try:
        vm = describe_conf(conf, [by_type[stype]] if stype else readers)
    except CtysError as exc:
        raise AddressError(f"{exc} (found through the inventory)") from exc
    return check_agrees(vm, selector, "the inventory")


def _by_learned_ip(selector: MachineSelector, readers: Sequence[ConfReader]) -> FoundVm | None:
    """``IP:addr`` of a running VM whose conf has no static address: the address its guest
    reported, as its plugin learned it (``ConfReader.confs_with_learned_ip``)."""
    terms = selector.terms
    if len(terms) != 1 or terms[0].kind is not AddressKind.IP:
        return None
    found: list[tuple[Path, ConfReader]] = []
    for reader in readers:
        try:
            found.extend((conf, reader) for conf in reader.confs_with_learned_ip(terms[0].value))
        except CtysError:
            continue
    if len(found) > 1:
        raise _ambiguous(selector, [str(conf) for conf, _ in found], [c for c, _ in found])
    if not found:
        return None
    conf, reader = found[0]
    return describe_conf(conf, [reader])
