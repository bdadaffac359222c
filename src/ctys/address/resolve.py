"""Resolve a machine address to VM conf files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ctys.address.model import AddressKind, MachineAddress, MachineSelector
from ctys.address.scan import default_base_paths, scan_vms
from ctys.conf.model import VmConfig
from ctys.conf.vmconfig import load_vm_config
from ctys.errors import AddressError, CtysError
from ctys.qemu.runtime import vm_id


def _norm_mac(mac: str) -> str:
    return mac.lower().replace("-", ":")


def matches(vm: VmConfig, term: MachineAddress) -> bool:
    """Whether one VM satisfies one address term."""
    value = term.value
    if term.kind is AddressKind.LABEL:
        return vm.label == value
    if term.kind is AddressKind.UUID:
        return vm.uuid is not None and vm.uuid.lower() == value.lower()
    if term.kind is AddressKind.MAC:
        return vm.mac is not None and _norm_mac(vm.mac) == _norm_mac(value)
    if term.kind is AddressKind.IP:
        return vm.ip is not None and vm.ip.split("/")[0] == value
    if term.kind is AddressKind.FILENAME:
        return vm.conf_path == Path(value).expanduser().resolve()
    if term.kind is AddressKind.ID:
        return vm_id(vm.label, vm.conf_path) == value
    return False


def select(vms: Sequence[VmConfig], selector: MachineSelector) -> list[VmConfig]:
    """The VMs matching every term of the selector."""
    return [vm for vm in vms if all(matches(vm, t) for t in selector.terms)]


def _describe(vm: VmConfig) -> str:
    return f"{vm.label} ({vm.conf_path})"


def resolve_one(selector: MachineSelector) -> VmConfig:
    """Exactly one VM for the selector, else an ``AddressError`` listing what matched."""
    if selector.empty:
        raise AddressError("no machine address given (e.g. l:LABEL, UUID:..., F:/path/vm.conf)")
    file_terms = [t for t in selector.terms if t.kind is AddressKind.FILENAME]
    if file_terms and len(selector.terms) == 1:
        path = Path(file_terms[0].value).expanduser()
        if not path.is_file():
            raise AddressError(f"no conf file at {path}")
        try:
            return load_vm_config(path.resolve())
        except CtysError:
            raise
    bases = selector.base_paths or default_base_paths()
    result = scan_vms(bases)
    found = select(result.vms, selector)
    if not found:
        where = ":".join(str(b) for b in bases)
        hint = f"; {len(result.errors)} conf file(s) unreadable" if result.errors else ""
        raise AddressError(f"no VM matches {selector} under {where}{hint}")
    if len(found) > 1:
        listing = "; ".join(_describe(vm) for vm in found)
        raise AddressError(f"{selector} is ambiguous, {len(found)} VMs match: {listing}")
    return found[0]
