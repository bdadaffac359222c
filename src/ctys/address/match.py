"""The one rule by which a machine address matches a VM, whatever knows the VM: a scanned
conf file, an inventory row or the runtime record of a running VM.

Every term must match (AND); a term may repeat (``l:web,l:demo`` matches nothing, since no
VM has two labels). Each source is first reduced to ``VmFacts`` so all of them are matched
by the same code and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ctys.address.model import AddressKind, MachineAddress, MachineSelector, normalize_mac
from ctys.address.vmid import vm_id
from ctys.pathutil import canonical_path

if TYPE_CHECKING:
    from ctys.conf.found import FoundVm
    from ctys.inventory.record import InventoryRecord


@dataclass(frozen=True)
class VmFacts:
    """What an address can name about one VM. ``None``/empty: unknown, matches nothing."""

    label: str
    conf: str  # the conf file's path
    uuid: str | None = None
    mac: str | None = None
    ip: str | None = None  # as written in the conf, maybe with a /prefix
    vmid: str = ""  # the runtime ID (``ctys.address.vmid.vm_id``)


class RunningFacts(Protocol):
    """What a plugin's record of a running VM tells (its runtime record)."""

    @property
    def label(self) -> str: ...
    @property
    def conf(self) -> str: ...
    @property
    def uuid(self) -> str | None: ...
    @property
    def mac(self) -> str | None: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def vmid(self) -> str: ...


def _vmid(label: str, conf: str) -> str:
    return vm_id(label, Path(conf))


def facts_of_found(found: FoundVm) -> VmFacts:
    """The facts of a conf file as its plugin described it (scan, ``F:``)."""
    conf = str(found.conf_path)
    return VmFacts(found.label, conf, found.uuid, found.mac, found.ip, _vmid(found.label, conf))


def facts_of_inventory(rec: InventoryRecord) -> VmFacts:
    """The facts of an inventory row (its strings are ``""`` when unknown)."""
    return VmFacts(
        rec.label, rec.pname, rec.uuid or None, rec.mac or None, rec.tcp or None,
        _vmid(rec.label, rec.pname),
    )  # fmt: skip


def facts_of_record(rec: RunningFacts) -> VmFacts:
    """The facts of a running VM's runtime record: its conf as it was when it started."""
    return VmFacts(rec.label, rec.conf, rec.uuid, rec.mac, rec.ip, rec.vmid)


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (symlinks resolved; never raises on loops)."""
    if not a or not b:
        return False
    return a == b or _real(a) == _real(b)


def _real(path: str | Path) -> str:
    return str(canonical_path(Path(path).expanduser()))


def term_matches(facts: VmFacts, term: MachineAddress) -> bool:
    """Whether one VM satisfies one address term."""
    value = term.value
    kind = term.kind
    if kind is AddressKind.LABEL:
        return facts.label == value
    if kind is AddressKind.UUID:
        return facts.uuid is not None and facts.uuid.lower() == value.lower()
    if kind is AddressKind.MAC:
        return facts.mac is not None and normalize_mac(facts.mac) == normalize_mac(value)
    if kind is AddressKind.IP:
        return facts.ip is not None and facts.ip.split("/")[0] == value
    if kind is AddressKind.FILENAME:
        return same_file(facts.conf, value)
    if kind is AddressKind.ID:
        return bool(facts.vmid) and facts.vmid == value
    return False


def all_match(facts: VmFacts, terms: Iterable[MachineAddress]) -> bool:
    """Whether the VM satisfies every term (AND)."""
    return all(term_matches(facts, t) for t in terms)


def select_facts(items: Sequence[VmFacts], selector: MachineSelector) -> list[VmFacts]:
    """The items matching every term of the selector."""
    return [f for f in items if all_match(f, selector.terms)]


def under_any(conf: str, bases: Sequence[Path]) -> bool:
    """Whether ``conf`` lies in (or is) one of the ``BASEPATH`` folders."""
    real = Path(_real(conf))
    for base in bases:
        top = Path(_real(base))
        if real == top or top in real.parents:
            return True
    return False
