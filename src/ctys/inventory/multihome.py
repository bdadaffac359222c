"""Multihoming: one inventory record per address of a VM (the original's ENUMERATE lists a
VM once per IP of its ``#@#IP<n>`` keys, each with that NIC's MAC and sub-fields)."""

from __future__ import annotations

import dataclasses

from ctys.conf.found import FoundVm
from ctys.inventory.record import FIELDS, InventoryRecord, record_from_found

# NetAddress attribute → record attribute, for those the record has.
_ADDRESS_FIELDS = {
    attr: attr
    for attr in ("netmask", "relay", "ifname", "sshport", "gateway")
    if attr.upper() in FIELDS
}


def records_per_address(
    found: FoundVm, host: str, scanned: float, **scanner: str
) -> list[InventoryRecord]:
    """``found``'s record (``record_from_found``, ``scanner`` fields included), once per
    address after the first one too, each with that address's MAC, IP and sub-fields."""
    record = record_from_found(found, host, scanned, **scanner)
    if len(found.addresses) <= 1:
        return [record]
    records = [record]
    for address in found.addresses[1:]:
        changes = {"mac": address.mac, "tcp": address.ip}
        changes |= {field: getattr(address, attr) for attr, field in _ADDRESS_FIELDS.items()}
        records.append(dataclasses.replace(record, **changes))
    return records
