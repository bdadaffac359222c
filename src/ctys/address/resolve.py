"""Resolve a machine address to VM conf files: from the inventory when it is on and filled,
else by scanning folders for conf files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ctys.address.model import (
    INVENTORY_FIELD,
    AddressKind,
    MachineAddress,
    MachineSelector,
    inventory_value,
    normalize_mac,
)
from ctys.address.scan import default_base_paths, scan_vms
from ctys.conf.model import VmConfig
from ctys.conf.vmconfig import load_vm_config
from ctys.errors import AddressError, CtysError
from ctys.pathutil import canonical_path
from ctys.qemu.runtime import vm_id


def matches(vm: VmConfig, term: MachineAddress) -> bool:
    """Whether one VM satisfies one address term."""
    value = term.value
    if term.kind is AddressKind.LABEL:
        return vm.label == value
    if term.kind is AddressKind.UUID:
        return vm.uuid is not None and vm.uuid.lower() == value.lower()
    if term.kind is AddressKind.MAC:
        return vm.mac is not None and normalize_mac(vm.mac) == normalize_mac(value)
    if term.kind is AddressKind.IP:
        return vm.ip is not None and vm.ip.split("/")[0] == value
    if term.kind is AddressKind.FILENAME:
        return canonical_path(vm.conf_path) == canonical_path(Path(value).expanduser())
    if term.kind is AddressKind.ID:
        return vm_id(vm.label, vm.conf_path) == value
    return False


def select(vms: Sequence[VmConfig], selector: MachineSelector) -> list[VmConfig]:
    """The VMs matching every term of the selector."""
    return [vm for vm in vms if all(matches(vm, t) for t in selector.terms)]


def _describe(vm: VmConfig) -> str:
    return f"{vm.label} ({vm.conf_path})"


def _ambiguous(selector: MachineSelector, candidates: list[str]) -> AddressError:
    listing = "; ".join(candidates)
    return AddressError(f"{selector} is ambiguous, {len(candidates)} VMs match: {listing}")


def resolve_one(selector: MachineSelector, inventory: Path | None = None) -> VmConfig:
    """Exactly one VM for the selector, else an ``AddressError`` listing what matched.

    ``F:`` alone reads that conf file; ``BASEPATH:`` folders are scanned; otherwise the
    inventory at ``inventory`` answers when it exists and holds records, and the default
    VM folders are scanned when it does not (or when ``inventory`` is ``None``: ``-C off``).
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
        if found is not None:
            return found
    return _by_scan(selector, selector.base_paths or default_base_paths())


def _by_scan(selector: MachineSelector, bases: Sequence[Path]) -> VmConfig:
    result = scan_vms(bases)
    found = select(result.vms, selector)
    if not found and (learned := _by_learned_ip(selector)) is not None:
        return learned
    if not found:
        where = ":".join(str(b) for b in bases)
        hint = f"; {len(result.errors)} conf file(s) unreadable" if result.errors else ""
        raise AddressError(f"no VM matches {selector} under {where}{hint}")
    if len(found) > 1:
        raise _ambiguous(selector, [_describe(vm) for vm in found])
    return found[0]


def _from_inventory(selector: MachineSelector, path: Path) -> VmConfig | None:
    """The VM from the inventory; ``None`` when the inventory is empty (then we scan)."""
    from ctys.inventory.settings import this_host
    from ctys.inventory.store import Inventory

    if any(t.kind is AddressKind.ID for t in selector.terms):
        return None  # runtime ids are not in the inventory
    with Inventory.open_readonly(path) as inv:
        if inv.is_empty():
            return None
        fields = {INVENTORY_FIELD[t.kind]: inventory_value(t.kind, t.value) for t in selector.terms}
        records = inv.find(**fields)
    if not records and (learned := _by_learned_ip(selector)) is not None:
        return learned
    if not records:
        raise AddressError(
            f"no VM matches {selector} in the inventory {path}"
            " (run ENUMERATE to refresh it, or use -C off to scan the VM folders)"
        )
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
    agent or the neighbour table reports (see ``ctys.qemu.guestip``)."""
    terms = selector.terms
    if len(terms) != 1 or terms[0].kind is not AddressKind.IP:
        return None
    from ctys.qemu.guestip import running_vms_with_ip
    from ctys.qemu.runtime import RuntimeDir

    try:
        confs = running_vms_with_ip(terms[0].value, RuntimeDir())
    except CtysError:
        return None
    if len(confs) > 1:
        raise _ambiguous(selector, [str(c) for c in confs])
    return load_vm_config(confs[0]) if confs else None
