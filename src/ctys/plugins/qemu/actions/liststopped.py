"""LIST=ALLVMS: the known VMs of this host that do not run, state ``shut off`` (as
``virsh list --all`` shows them).

Known means: the inventory's QEMU records of this host (what ENUMERATE found), else, when
the inventory has none, the confs under the default VM folders (the scan LIST does anyway
to name foreign qemus). A VM that runs is never listed again as stopped: it is matched
to the running rows by its conf path, then its UUID.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.address.vmid import vm_id
from ctys.plugins.qemu.actions.list import STATE_SHUT_OFF, VmEntry
from ctys.plugins.qemu.vmconfig import VmConfig


@dataclass(frozen=True)
class KnownVm:
    """A VM this host knows of, whether it runs or not."""

    label: str
    conf: Path
    uuid: str | None = None
    mac: str | None = None
    ip: str | None = None


def known_from_confs(confs: Iterable[VmConfig]) -> list[KnownVm]:
    """The scanned confs as known VMs (MAGICID-IGNORE ones are none)."""
    return [KnownVm(c.label, c.conf_path, c.uuid, c.mac, c.ip) for c in confs if not c.ignored]


def known_from_inventory(inventory: Path | None, host: str) -> list[KnownVm]:
    """This host's QEMU records in the inventory, one per conf (the first address of a
    multihomed VM); [] when there is no readable inventory."""
    from ctys.errors import CtysError
    from ctys.inventory.store import Inventory

    if inventory is None or not inventory.is_file():
        return []
    try:
        with Inventory.open_readonly(inventory) as inv:
            records = inv.find(host=host)
    except CtysError:
        return []
    known: dict[str, KnownVm] = {}
    for r in records:
        if r.stype.upper() == "QEMU" and r.pname and r.pname not in known:
            known[r.pname] = KnownVm(
                r.label, Path(r.pname), r.uuid or None, r.mac or None, r.tcp or None
            )
    return list(known.values())


def stopped_entries(known: Sequence[KnownVm], running: Sequence[VmEntry]) -> list[VmEntry]:
    """A ``shut off`` row for each of ``known`` that none of ``running`` runs (same conf
    path, else same UUID); each conf once."""
    confs = {str(e.conf) for e in running if e.conf}
    uuids = {e.uuid.lower() for e in running if e.uuid}
    rows: dict[str, VmEntry] = {}
    for vm in known:
        key = str(vm.conf)
        if key in confs or key in rows or (vm.uuid and vm.uuid.lower() in uuids):
            continue
        rows[key] = VmEntry(
            label=vm.label,
            pid=0,
            managed=False,
            state=STATE_SHUT_OFF,
            uuid=vm.uuid,
            conf=vm.conf,
            ip=vm.ip,
            vmid=vm_id(vm.label, vm.conf),
            mac=vm.mac,
            address=vm.ip,
        )
    return list(rows.values())


def with_stopped(
    running: Sequence[VmEntry],
    confs: Sequence[VmConfig],
    inventory: Path | None,
    host: str,
) -> list[VmEntry]:
    """``running`` plus the stopped known VMs, sorted by label (running ones first of a
    label)."""
    known = known_from_inventory(inventory, host) or known_from_confs(confs)
    entries = [*running, *stopped_entries(known, running)]
    entries.sort(key=lambda e: (e.label.lower(), not e.running, e.pid))
    return entries
