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

from ctys.address.model import (
    CONF_PATH_KINDS,
    AddressKind,
    MachineAddress,
    MachineSelector,
    normalize_mac,
)
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
    # The runtime ID (``ctys.address.vmid.vm_id``); ``None``: the one of label and conf,
    # made only when a ``VMID`` term asks (a hash: resolving a label needs none).
    vmid: str | None = None
    dbrecord: int | None = None  # the inventory record's position (DBRECORD), if from one
    # A multihomed conf's further addresses (``FoundVm.addresses`` after the first).
    other_macs: tuple[str, ...] = ()
    other_ips: tuple[str, ...] = ()


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
    more = found.addresses[1:]
    return VmFacts(
        found.label, str(found.conf_path), found.uuid, found.mac, found.ip, None, None,
        tuple(a.mac for a in more if a.mac), tuple(a.ip for a in more if a.ip),
    )  # fmt: skip


def facts_of_inventory(rec: InventoryRecord, position: int | None = None) -> VmFacts:
    """The facts of an inventory row (its strings are ``""`` when unknown) at 1-based
    ``position`` in the inventory (``DBRECORD``), when known."""
    return VmFacts(
        rec.label, rec.pname, rec.uuid or None, rec.mac or None, rec.tcp or None, None, position
    )


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
        mac = normalize_mac(value)
        macs = (facts.mac, *facts.other_macs) if facts.mac else facts.other_macs
        return any(normalize_mac(m) == mac for m in macs)
    if kind is AddressKind.IP:
        ips = (facts.ip, *facts.other_ips) if facts.ip else facts.other_ips
        return any(ip.split("/")[0] == value for ip in ips)
    if kind in CONF_PATH_KINDS:
        return same_file(facts.conf, value)
    if kind is AddressKind.FILENAME:
        # The original: a pattern matched against the full path; part of it will do.
        return same_file(facts.conf, value) or (bool(facts.conf) and value in facts.conf)
    if kind is AddressKind.VMID:
        vmid = _vmid(facts.label, facts.conf) if facts.vmid is None else facts.vmid
        return bool(vmid) and vmid == value
    if kind is AddressKind.DBRECORD:
        return facts.dbrecord is not None and str(facts.dbrecord) == value.lstrip("0")
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
