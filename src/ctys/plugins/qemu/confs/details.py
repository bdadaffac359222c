"""The inventory fields a QEMU conf fills beyond the core's (``FoundVm.details``): the
original's descriptive keys (``VmFacts``) and NIC 0's sub-fields, by the original's field
names (COMPAT §3, lower case). Only the fields the inventory record has are given, so
that a record growing a field (``VERSION``, ``SERNO``, ...) gets it filled as it appears."""

from __future__ import annotations

from dataclasses import fields

from ctys.inventory.record import FIELDS
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.plugins.qemu.vmfacts import VNC_BASEPORT, VmFacts

_RECORD_FIELDS = frozenset(name.lower() for name in FIELDS)
# The core's own facts, never details (record_from_found sets them).
_CORE_FIELDS = frozenset({"host", "stype", "label", "pname", "uuid", "mac", "tcp", "mode"})
# The VmFacts that are record fields of the same name.
_FACT_FIELDS = tuple(
    f.name for f in fields(VmFacts) if f.name in _RECORD_FIELDS and f.name not in _CORE_FIELDS
)


def inventory_details(vm: VmConfig) -> dict[str, str]:
    """Field name → value of ``vm``'s descriptive keys, for the fields the record has."""
    facts = vm.facts
    values = {name: getattr(facts, name) for name in _FACT_FIELDS}
    first = vm.addresses[0] if vm.addresses else None
    values |= {
        "distrel": facts.distrel,
        "osrel": facts.osrel,
        # The original's record names: DISPLAY, VNCBASE, CONTEXTSTRG, DEFHOSTS, DEFCONSOLE.
        "display": facts.vncdisplay,
        "vncbase": facts.vncbaseport or (str(VNC_BASEPORT) if facts.vncdisplay else ""),
        "defhosts": facts.defaulthosts,
        "defconsole": facts.defaultconsole,
    }
    if first is not None:
        values |= {
            "netmask": first.netmask,
            "relay": first.relay,
            "ifname": first.ifname,
            "sshport": first.sshport,
            "gateway": first.gateway,
        }
    return {
        name: value
        for name, value in values.items()
        if value and name in _RECORD_FIELDS and name not in _CORE_FIELDS
    }
