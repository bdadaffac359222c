"""One inventory record: one VM (one of its addresses) as seen from one host: the
original's MACHINE record, one ``enum.fdb`` line, plus a few fields of ctys' own.

Every value is a string (``""`` for unknown) so that the ``;``-separated ``enum.fdb``
export and its import are exact inverses. The fields, their order, names and aliases are
``ctys.inventory.fields``; the dataclass attributes are the names in lower case.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ctys.inventory.fields import (
    ALIASES,
    FIELD_TABLE,
    FIELDS,
    MACHINE_FIELDS,
    canonical_field,
    is_field_name,
)

if TYPE_CHECKING:  # the conf types load with the first scan, not with every query
    from ctys.conf.found import FoundVm

__all__ = [
    "ALIASES",
    "FIELDS",
    "MACHINE_FIELDS",
    "InventoryRecord",
    "canonical_field",
    "format_scanned",
    "is_field_name",
    "partial_record",
    "record_from_found",
    "record_from_values",
]


@dataclass(frozen=True)
class InventoryRecord:
    """One VM as seen from one host. Multipath: a VM on a shared filesystem that two hosts
    can run is two records (same ``vm_id``, different ``host``); multihoming: a VM with
    several addresses is one record per address. The attributes are
    ``ctys.inventory.fields.FIELD_TABLE`` in order (checked when this module loads)."""

    host: str = ""  # PM/HOST: the machine the VM was seen from and can run on
    stype: str = ""  # session type: the plugin whose VM it is
    label: str = ""
    pname: str = ""  # ID: absolute path of the conf file
    uuid: str = ""
    mac: str = ""
    tcp: str = ""  # guest IP address (of this record's interface)
    display: str = ""
    vncport: str = ""  # CPORT: console (VNC) port
    sport: str = ""  # SERVERACCESS: server access port
    vncbase: str = ""
    dist: str = ""
    distrel: str = ""
    os: str = ""
    osrel: str = ""
    version: str = ""
    serno: str = ""
    category: str = ""
    vmstate: str = ""
    hyperrel: str = ""
    stackcap: str = ""
    stackreq: str = ""
    hwcap: str = ""
    hwreq: str = ""
    execlocation: str = ""
    reloccap: str = ""
    sshport: str = ""
    netname: str = ""  # DNS name of tcp
    hyperrelrun: str = ""
    accelerator: str = ""
    exepath: str = ""  # the hypervisor's program, or the NAME.ctys wrapper in sh+ctys mode
    reserved: str = ""
    ifname: str = ""
    ctysrelease: str = ""
    netmask: str = ""
    gateway: str = ""
    relay: str = ""
    arch: str = ""
    platform: str = ""
    vram: str = ""  # MB of memory
    vcpu: str = ""
    contextstrg: str = ""
    userstring: str = ""
    uid: str = ""
    gid: str = ""
    defhosts: str = ""
    defconsole: str = ""
    mode: str = ""  # ctys' own from here: sh+ctys | ctys-conf
    scanned: str = ""  # when the record was made, ISO 8601 UTC
    fdbwidth: str = ""  # "43": imported from a 43-field enum.fdb line (exported so again)

    @property
    def vm_id(self) -> str:
        """Identity of the VM independent of the host: the UUID (lower case) when set,
        else the conf path."""
        return self.uuid.lower() if self.uuid else self.pname

    def get(self, name: str) -> str:
        """The value of a field given by name or alias (``L``, ``CPORT``, ...)."""
        value: str = getattr(self, canonical_field(name).lower())
        return value

    def values(self) -> tuple[str, ...]:
        """All values in ``FIELDS`` order (the store's columns)."""
        values: tuple[str, ...] = _GET_VALUES(self)
        return values

    def machine_values(self) -> tuple[str, ...]:
        """The 47 values of the original's record (``MACHINE_FIELDS`` order): the
        MACHINE output and an ``enum.fdb`` line."""
        values: tuple[str, ...] = _GET_MACHINE_VALUES(self)
        return values

    def as_row(self) -> dict[str, str]:
        """Field name → value, for ``ctys.tables.render``."""
        return dict(zip(FIELDS, self.values(), strict=True))


_ATTRS: tuple[str, ...] = tuple(f.name for f in fields(InventoryRecord))
if tuple(spec.attr for spec in FIELD_TABLE) != _ATTRS:  # the record mirrors the table
    raise AssertionError("InventoryRecord's attributes differ from inventory.fields")

# All values in one C call (a record is turned into a row for every store and output).
_GET_VALUES = operator.attrgetter(*_ATTRS)
_GET_MACHINE_VALUES = operator.attrgetter(*(name.lower() for name in MACHINE_FIELDS))


# A frozen dataclass's __init__ sets each of the 50 fields through object.__setattr__;
# records read by the thousand (a rescan's kept rows, a query's hits) get their __dict__
# in one step instead: the same record, in half the time.
_new_object = object.__new__
_set_attribute = object.__setattr__
_EMPTY_RECORD: Mapping[str, str] = dict.fromkeys(_ATTRS, "")


def record_from_values(values: Sequence[str]) -> InventoryRecord:
    """A record from its values in ``FIELDS`` order (exactly ``len(FIELDS)`` of them)."""
    record = _new_object(InventoryRecord)
    _set_attribute(record, "__dict__", dict(zip(_ATTRS, values, strict=True)))
    return record


def partial_record(attrs: Sequence[str], values: Sequence[str]) -> InventoryRecord:
    """A record with only the attributes ``attrs`` set (to ``values``), the others empty:
    for output that prints those fields only."""
    fields = dict(_EMPTY_RECORD)
    fields.update(zip(attrs, values, strict=True))
    record = _new_object(InventoryRecord)
    _set_attribute(record, "__dict__", fields)
    return record


# What a conf's keys fill when the plugin does not (``#@#KEY`` or shell variable, copied
# verbatim): the fields of the table with a conf key, but those a FoundVm has itself.
_FOUND_ATTRS = frozenset({"host", "stype", "label", "pname", "uuid", "mac", "tcp"})
_EXTRA_CONF_KEYS: Mapping[str, str] = {
    spec.attr: spec.conf_key
    for spec in FIELD_TABLE
    if spec.conf_key is not None and spec.attr not in _FOUND_ATTRS
}


@functools.lru_cache(maxsize=16)  # one scan stamps thousands of records alike
def format_scanned(timestamp: float) -> str:
    """A scan timestamp (seconds since the epoch) as ISO 8601 UTC, e.g.
    ``2024-05-01T12:00:00Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# What ``FoundVm.details`` may fill: every field but the FoundVm's own facts and the ones
# this module sets (the conf keys above may be filled too; the plugin's value wins).
_DETAIL_FIELDS = frozenset(_ATTRS) - _FOUND_ATTRS - {"mode", "scanned", "fdbwidth"}


def record_from_found(found: FoundVm, host: str, scanned: float, **scanner: str) -> InventoryRecord:
    """The inventory record of ``found`` as seen from ``host`` at time ``scanned``: the
    VM's own facts, the fields its plugin describes (``details``) and the conf keys of
    ``_EXTRA_CONF_KEYS``. In sh+ctys mode the program is the wrapper
    (``ctys.conf.rawconf.wrapper_path``). ``scanner``: fields the scan itself sets (who
    scanned: ``uid``, ``gid``), given here because ``dataclasses.replace`` on a record
    costs more than building it."""
    values: dict[str, str] = dict(scanner)
    raw = found.raw
    if raw is not None:
        for attr, key in _EXTRA_CONF_KEYS.items():
            value = raw.keys.get(key, "").strip() or raw.variables.get(key, "").strip()
            if value:
                values[attr] = value
    details = found.details
    if not _DETAIL_FIELDS.issuperset(details):
        bad = sorted(set(details) - _DETAIL_FIELDS)[0]
        raise ValueError(f"{found.stype} describes an unknown inventory field {bad!r}")
    values.update(details)
    from ctys.conf.rawconf import ConfMode, wrapper_path

    if found.mode is ConfMode.SH_CTYS:
        values["exepath"] = str(wrapper_path(found.conf_path))
    return InventoryRecord(
        host=host,
        stype=found.stype,
        label=found.label,
        pname=str(found.conf_path.absolute()),
        uuid=found.uuid or "",
        mac=found.mac or "",
        tcp=found.ip or "",
        mode=found.mode.value,
        scanned=format_scanned(scanned),
        **values,
    )
