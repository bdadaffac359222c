"""Machine addresses (SPEC §2): the ways a user names a VM."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ctys.errors import AddressError, UsageError
from ctys.invocation import Suboption
from ctys.pathutil import canonical_path


class AmbiguousAddress(AddressError):
    """Several VMs match an address (the message lists them)."""


class AddressKind(Enum):
    """Which property of a VM an address matches."""

    LABEL = "LABEL"
    UUID = "UUID"
    MAC = "MAC"
    IP = "IP"
    FILENAME = "FILENAME"
    ID = "ID"


# Suboption keys (upper-cased) that are machine addresses, and what they match.
ADDRESS_KEYS: dict[str, AddressKind] = {
    "L": AddressKind.LABEL,
    "LABEL": AddressKind.LABEL,
    "UUID": AddressKind.UUID,
    "MAC": AddressKind.MAC,
    "IP": AddressKind.IP,
    "TCP": AddressKind.IP,
    "F": AddressKind.FILENAME,
    "FILENAME": AddressKind.FILENAME,
    "PNAME": AddressKind.FILENAME,
    "ID": AddressKind.ID,
    "I": AddressKind.ID,
}

BASEPATH_KEYS = frozenset({"BASEPATH", "BASE", "B"})

# Address kinds the inventory can answer, and the record field each one matches
# (runtime IDs are not in the inventory).
INVENTORY_FIELD: dict[AddressKind, str] = {
    AddressKind.LABEL: "label",
    AddressKind.UUID: "uuid",
    AddressKind.MAC: "mac",
    AddressKind.IP: "tcp",
    AddressKind.FILENAME: "pname",
}


def normalize_mac(mac: str) -> str:
    """A MAC as ctys compares it (inventory, conf matching, neighbour table): trimmed, lower
    case, ``:``-separated."""
    return mac.strip().lower().replace("-", ":")


def inventory_value(kind: AddressKind, value: str) -> str:
    """An address value as the inventory stores it: conf paths resolved, MACs normalised."""
    if kind is AddressKind.FILENAME:
        return str(canonical_path(Path(value).expanduser()))
    if kind is AddressKind.MAC:
        return normalize_mac(value)
    return value


@dataclass(frozen=True)
class MachineAddress:
    """One ``KIND:value`` term; several terms in one call must all match (AND)."""

    kind: AddressKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"


@dataclass(frozen=True)
class MachineSelector:
    """The address part of an action's suboptions: terms plus where to search."""

    terms: tuple[MachineAddress, ...] = ()
    base_paths: tuple[Path, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms) or "(no address)"


def address_from_suboption(sub: Suboption) -> MachineAddress | None:
    """The address a suboption names, ``None`` if it is not an address key."""
    kind = ADDRESS_KEYS.get(sub.key)
    if kind is None:
        return None
    if len(sub.args) != 1 or not sub.args[0]:
        raise UsageError(f"address '{sub.raw}' needs exactly one value, e.g. {sub.key}:name")
    return MachineAddress(kind, sub.args[0])


def base_paths_from_suboption(sub: Suboption) -> tuple[Path, ...]:
    """``BASEPATH:/a%/b`` → the folders to search."""
    if not sub.args or not all(sub.args):
        raise UsageError(f"'{sub.raw}' needs at least one folder, e.g. BASEPATH:/srv/vms")
    return tuple(Path(a).expanduser() for a in sub.args)
