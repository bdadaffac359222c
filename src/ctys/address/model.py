"""Machine addresses (SPEC §2): the ways a user names a VM."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ctys.argscan import escape_suboption_arg
from ctys.errors import AddressError, UsageError
from ctys.invocation import ActionCall, Suboption
from ctys.pathutil import canonical_path


class AmbiguousAddress(AddressError):
    """Several VMs match an address (the message lists them). ``matches`` names each one
    by an address that matches it alone (``P:<conf>``), so ``-A`` can act on all of them;
    empty when the matches cannot be named so."""

    def __init__(self, message: str, matches: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.matches = matches


class AddressKind(Enum):
    """Which property of a VM an address matches (COMPAT §5, ctys-common-addresssyntax(7))."""

    LABEL = "LABEL"
    UUID = "UUID"
    MAC = "MAC"
    IP = "IP"
    PATHNAME = "PATHNAME"  # the conf file's path, exactly
    FILENAME = "FILENAME"  # a pattern on the conf file's full path (an exact path works)
    ID = "ID"  # the plugin's ID of a VM: its conf file's path, as PATHNAME
    VMID = "VMID"  # ctys' runtime ID of a running VM (``ctys.address.vmid``), or a PID
    DBRECORD = "DBRECORD"  # the inventory record at that position (1-based)


# Suboption keys (upper-cased) that are machine addresses, and what they match: the
# original's keys and short forms, plus VMID (ctys' own).
ADDRESS_KEYS: dict[str, AddressKind] = {
    "L": AddressKind.LABEL,
    "LABEL": AddressKind.LABEL,
    "U": AddressKind.UUID,
    "UUID": AddressKind.UUID,
    "M": AddressKind.MAC,
    "MAC": AddressKind.MAC,
    "T": AddressKind.IP,
    "TCP": AddressKind.IP,
    "IP": AddressKind.IP,
    "P": AddressKind.PATHNAME,
    "PNAME": AddressKind.PATHNAME,
    "PATHNAME": AddressKind.PATHNAME,
    "F": AddressKind.FILENAME,
    "FNAME": AddressKind.FILENAME,
    "FILENAME": AddressKind.FILENAME,
    "ID": AddressKind.ID,
    "I": AddressKind.ID,
    "VMID": AddressKind.VMID,
    "DBRECORD": AddressKind.DBRECORD,
    "DBREC": AddressKind.DBRECORD,
    "DR": AddressKind.DBRECORD,
}

# Address keys whose value is a path (``~`` is expanded).
PATH_ADDRESS_KEYS = frozenset({"P", "PNAME", "PATHNAME", "F", "FNAME", "FILENAME", "ID", "I"})

BASEPATH_KEYS = frozenset({"BASEPATH", "BASE", "B"})

# Address kinds that name a conf file by its path.
CONF_PATH_KINDS = frozenset({AddressKind.PATHNAME, AddressKind.ID})

# Address kinds the inventory can answer, and the record field each one matches
# (runtime IDs are not in the inventory; DBRECORD is a record's position).
INVENTORY_FIELD: dict[AddressKind, str] = {
    AddressKind.LABEL: "label",
    AddressKind.UUID: "uuid",
    AddressKind.MAC: "mac",
    AddressKind.IP: "tcp",
    AddressKind.PATHNAME: "pname",
    AddressKind.FILENAME: "pname",
    AddressKind.ID: "pname",
}


def normalize_mac(mac: str) -> str:
    """A MAC as ctys compares it (inventory, conf matching, neighbour table): trimmed, lower
    case, ``:``-separated."""
    return mac.strip().lower().replace("-", ":")


def inventory_value(kind: AddressKind, value: str) -> str:
    """An address value as the inventory stores it: conf paths resolved, MACs normalised."""
    if kind in CONF_PATH_KINDS or kind is AddressKind.FILENAME:
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
    value = sub.args[0]
    if kind is AddressKind.DBRECORD and not (value.isdigit() and int(value) > 0):
        raise UsageError(f"address '{sub.raw}': a DBRECORD is a record index from 1")
    return MachineAddress(kind, value)


def base_paths_from_suboption(sub: Suboption) -> tuple[Path, ...]:
    """``BASEPATH:/a%/b`` → the folders to search."""
    if not sub.args or not all(sub.args):
        raise UsageError(f"'{sub.raw}' needs at least one folder, e.g. BASEPATH:/srv/vms")
    return tuple(Path(a).expanduser() for a in sub.args)


def with_address(call: ActionCall, address: str) -> ActionCall:
    """``call`` with its address and BASEPATH suboptions replaced by ``address`` (one
    ``KEY:value`` term, e.g. an ``AmbiguousAddress`` match), the other suboptions kept."""
    key, _, value = address.partition(":")
    term = Suboption(key.upper(), (value,), f"{key}:{escape_suboption_arg(value)}")
    rest = [s for s in call.suboptions if s.key not in ADDRESS_KEYS and s.key not in BASEPATH_KEYS]
    return ActionCall(call.name, (term, *rest))
