"""One inventory record: one VM as seen from one host (the original's cacheDB line).

Every value is a string (``""`` for unknown) so that the ``;``-separated ASCII export and
its import are exact inverses. Field names are the original ``ctys-vhost`` names in upper
case; the dataclass attributes are the same names in lower case.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from ctys.conf.found import FoundVm
from ctys.conf.rawconf import ConfMode
from ctys.errors import UsageError


@dataclass(frozen=True)
class InventoryRecord:
    """One VM as seen from one host. Multipath: a VM on a shared filesystem that two hosts
    can run is two records (same ``vm_id``, different ``host``)."""

    host: str = ""  # PM/HOST: the machine the VM was seen from and can run on
    stype: str = ""  # session type: the plugin whose VM it is
    label: str = ""
    pname: str = ""  # absolute path of the conf file
    uuid: str = ""
    mac: str = ""
    tcp: str = ""  # guest IP address
    vncport: str = ""  # CPORT: console (VNC) port
    sport: str = ""  # SERVERACCESS: server access port
    dist: str = ""
    distrel: str = ""
    os: str = ""
    osrel: str = ""
    category: str = ""
    hyperrel: str = ""  # hypervisor release
    stackcap: str = ""  # VM-stack capabilities (what it can run inside)
    stackreq: str = ""  # VM-stack requirements
    sshport: str = ""
    ifname: str = ""
    netmask: str = ""
    gateway: str = ""
    arch: str = ""
    vcpu: str = ""
    memsize: str = ""  # MB
    accelerator: str = ""
    exepath: str = ""  # the hypervisor's program, or the NAME.ctys wrapper in sh+ctys mode
    userstring: str = ""
    mode: str = ""  # sh+ctys | ctys-conf
    scanned: str = ""  # when the record was made, ISO 8601 UTC

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
        """All values in ``FIELDS`` order (the cacheDB column order)."""
        values: tuple[str, ...] = _GET_VALUES(self)
        return values

    def as_row(self) -> dict[str, str]:
        """Field name → value, for ``ctys.tables.render``."""
        return dict(zip(FIELDS, self.values(), strict=True))


_ATTRS: tuple[str, ...] = tuple(f.name for f in fields(InventoryRecord))

# All values in one C call (a record is turned into a row for every store and output).
_GET_VALUES = operator.attrgetter(*_ATTRS)

FIELDS: tuple[str, ...] = tuple(attr.upper() for attr in _ATTRS)
"""The field names in their fixed order: the columns of the cacheDB format."""

ALIASES: Mapping[str, str] = {
    "H": "HOST",
    "PM": "HOST",
    "TYPE": "STYPE",
    "ST": "STYPE",
    "L": "LABEL",
    "P": "PNAME",
    "F": "PNAME",
    "FILENAME": "PNAME",
    # The original's ID/IDS of a VM is its conf file path.
    "ID": "PNAME",
    "IDS": "PNAME",
    "I": "PNAME",
    "U": "UUID",
    "M": "MAC",
    "T": "TCP",
    "IP": "TCP",
    "CPORT": "VNCPORT",
    "S": "SPORT",
    "SERVERACCESS": "SPORT",
    "O": "OS",
    "CAT": "CATEGORY",
    "HYREL": "HYPERREL",
    "SCAP": "STACKCAP",
    "SREQ": "STACKREQ",
    "GW": "GATEWAY",
    "MEM": "MEMSIZE",
    "ACCEL": "ACCELERATOR",
    "EXEP": "EXEPATH",
    "USTRG": "USERSTRING",
}
"""Short and alternative names of fields, as the original ``ctys-vhost -o`` accepts them."""

_KNOWN = frozenset(FIELDS)


def canonical_field(name: str) -> str:
    """The field name for ``name`` (any case, or an alias); ``UsageError`` if unknown."""
    upper = name.strip().upper()
    if upper in _KNOWN:
        return upper
    try:
        return ALIASES[upper]
    except KeyError:
        raise UsageError(
            f"unknown field '{name}' (known: {', '.join(FIELDS)}, or an alias such as L, U, "
            "M, T, P, H, CPORT)"
        ) from None


def is_field_name(name: str) -> bool:
    """Whether ``name`` is a field name or alias (any case)."""
    upper = name.upper()
    return upper in _KNOWN or upper in ALIASES


def record_from_values(values: tuple[str, ...]) -> InventoryRecord:
    """A record from its values in ``FIELDS`` order (exactly ``len(FIELDS)`` of them)."""
    return InventoryRecord(*values)


# Conf keys (``#@#KEY`` or shell variable) copied verbatim into fields a FoundVm lacks.
_EXTRA_CONF_KEYS: Mapping[str, str] = {
    "distrel": "DISTREL",
    "osrel": "OSREL",
    "category": "CATEGORY",
    "hyperrel": "HYPERREL",
    "stackcap": "STACKCAP",
    "stackreq": "STACKREQ",
    "sshport": "SSHPORT",
    "sport": "SPORT",
    "ifname": "IFNAME",
    "netmask": "NETMASK",
    "gateway": "GATEWAY",
    "userstring": "USERSTRING",
}


@functools.lru_cache(maxsize=16)  # one scan stamps thousands of records alike
def format_scanned(timestamp: float) -> str:
    """A scan timestamp (seconds since the epoch) as ISO 8601 UTC, e.g.
    ``2024-05-01T12:00:00Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# What ``FoundVm.details`` may fill: every field but the FoundVm's own facts and the ones
# this module sets (the conf keys above may be filled too; the plugin's value wins).
_DETAIL_FIELDS = frozenset(_ATTRS) - {
    "host", "stype", "label", "pname", "uuid", "mac", "tcp", "mode", "scanned",
}  # fmt: skip


def record_from_found(found: FoundVm, host: str, scanned: float) -> InventoryRecord:
    """The inventory record of ``found`` as seen from ``host`` at time ``scanned``: the
    VM's own facts, the fields its plugin describes (``details``) and the conf keys of
    ``_EXTRA_CONF_KEYS``. In sh+ctys mode the program is the ``NAME.ctys`` wrapper."""
    values: dict[str, str] = {}
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
    if found.mode is ConfMode.SH_CTYS:
        values["exepath"] = str(found.conf_path.with_suffix(".ctys"))
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
