"""Where CREATE runs a VM that several hosts can run (multipath inventory rows).

Rule: a target given on the command line wins; else the least loaded candidate host
(1-minute load per CPU, then fewer running VMs, then the name). Each remote candidate is
asked with ``ctys -a INFO=LOAD``; this host answers in-process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ctys.actions.info import HostLoad
from ctys.address.model import (
    ADDRESS_KEYS,
    BASEPATH_KEYS,
    INVENTORY_FIELD,
    address_from_suboption,
    inventory_value,
)
from ctys.cli.syntax import ActionCall, Invocation, Suboption
from ctys.errors import CtysError
from ctys.inventory.record import InventoryRecord

if TYPE_CHECKING:
    from ctys.remote.fanout import RemoteSettings

__all__ = [
    "Candidate",
    "candidates",
    "choose",
    "create_call_for",
    "is_local_host",
    "place_create",
]


# Address kinds and the inventory field each one matches (runtime IDs are not stored).
@dataclass(frozen=True)
class Candidate:
    """A host that can run the VM, and the VM's conf file as that host sees it."""

    host: str  # as recorded: the target name the user gave to ENUMERATE, or this host
    pname: str
    local: bool


def is_local_host(host: str, here: str) -> bool:
    """Whether an inventory HOST value means this machine."""
    return host in ("", "localhost", "127.0.0.1", here)


def candidates(call: ActionCall, inventory: Path, here: str) -> list[Candidate]:
    """The hosts the inventory says can run the one VM ``call`` addresses; empty when the
    address is not for the inventory (no address, ``BASEPATH``, runtime ``ID``), matches no
    VM or several VMs (the normal resolution then says so)."""
    from ctys.inventory.store import Inventory

    fields: dict[str, str] = {}
    for sub in call.suboptions:
        if sub.key in BASEPATH_KEYS:
            return []
        term = address_from_suboption(sub)
        if term is None:
            continue
        if term.kind not in INVENTORY_FIELD:
            return []
        fields[INVENTORY_FIELD[term.kind]] = inventory_value(term.kind, term.value)
    if not fields or not inventory.is_file():
        return []
    with Inventory.open_readonly(inventory) as inv:
        records = inv.find(**fields)
    if len({r.vm_id for r in records}) != 1:
        return []
    return _by_host(records, here)


def _by_host(records: Sequence[InventoryRecord], here: str) -> list[Candidate]:
    seen: dict[str, Candidate] = {}
    for rec in sorted(records, key=lambda r: r.host):
        local = is_local_host(rec.host, here)
        key = "" if local else rec.host
        seen.setdefault(key, Candidate(rec.host, rec.pname, local))
    return list(seen.values())


def choose(loads: Mapping[str, HostLoad], local: str | None = None) -> str:
    """The least loaded host: lowest load per CPU, then fewest running VMs, then the
    ``local`` host (no ssh needed), then name."""
    if not loads:
        raise CtysError("no candidate host answered")
    return min(
        loads,
        key=lambda h: (round(loads[h].per_cpu, 2), loads[h].running_vms, h != local, h),
    )


def create_call_for(call: ActionCall, pname: str) -> ActionCall:
    """The CREATE call for the chosen remote host: its conf file (``F:path`` as that host
    sees it) in place of the address, the other suboptions as given."""
    from ctys.remote.options import escape_suboption_arg

    kept = tuple(
        s for s in call.suboptions if s.key not in ADDRESS_KEYS and s.key not in BASEPATH_KEYS
    )
    address = Suboption("F", (pname,), f"F:{escape_suboption_arg(pname)}")
    return ActionCall(call.name, (address, *kept))


def describe(load: HostLoad) -> str:
    """``load 0.12 on 4 CPUs, 1 VMs running``."""
    return f"load {load.load1:.2f} on {load.ncpu} CPUs, {load.running_vms} VMs running"


def report_choice(
    address: str, chosen: str, loads: Mapping[str, HostLoad], asked: Sequence[str], err: TextIO
) -> None:
    """One line saying which host runs the VM and why."""
    if len(asked) == 1:
        why = "the only host that can run it"
    else:
        why = f"least loaded of {', '.join(asked)}: {describe(loads[chosen])}"
    print(f"ctys: {address}: running on {chosen} ({why})", file=err)


def place_create(
    invocation: Invocation, err: TextIO, settings: RemoteSettings
) -> Invocation | None:
    """Apply the placement rule to a CREATE given no target: ``None`` to run it here, else
    the invocation to run on the chosen host (with that host's conf path as address).
    Prints one line naming the host and why; candidates that do not answer get their
    ``ctys: host: ...`` line and are passed over."""
    from ctys.inventory.settings import inventory_choice, this_host

    call = invocation.action
    path = inventory_choice(invocation).path
    if call is None or path is None:
        return None
    found = candidates(call, path, this_host())
    if not found or (len(found) == 1 and found[0].local):
        return None
    loads = _ask_loads(invocation, found, err, settings) if len(found) > 1 else {}
    if len(found) > 1 and not loads:
        raise CtysError("none of the hosts that can run the VM answered INFO=LOAD")
    local = next((c.host for c in found if c.local), None)
    chosen = choose(loads, local) if loads else found[0].host
    address = ",".join(s.raw for s in call.suboptions if s.key in ADDRESS_KEYS)
    report_choice(address, chosen, loads, [c.host for c in found], err)
    pick = next(c for c in found if c.host == chosen)
    if pick.local:
        return None
    from ctys.cli.argscan import parse_target

    return replace(
        invocation,
        action=create_call_for(call, pick.pname),
        targets=(parse_target(pick.host),),
    )


def _ask_loads(
    invocation: Invocation, found: Sequence[Candidate], err: TextIO, settings: RemoteSettings
) -> dict[str, HostLoad]:
    """Each candidate's load: remote ones over ssh (concurrently), this host in-process."""
    from ctys.actions.info import host_load, parse_load
    from ctys.cli.argscan import parse_target
    from ctys.remote.fanout import run_on_targets
    from ctys.remote.merge import error_line
    from ctys.remote.ssh import default_control_dir, ssh_argv

    kind = [f"-t{invocation.plugin_types[0]}"] if len(invocation.plugin_types) == 1 else []
    control = default_control_dir()
    remote = [parse_target(c.host) for c in found if not c.local]
    results = run_on_targets(
        remote,
        lambda t: ssh_argv(
            t,
            [*kind, "-a", "INFO=LOAD"],
            user=invocation.remote_user,
            pty=False,
            connect_timeout=settings.connect_timeout,
            control_dir=control,
        ),
        max_parallel=settings.max_parallel,
        timeout=settings.connect_timeout + 20,
    )
    loads: dict[str, HostLoad] = {}
    for result in results:
        reason = result.error or f"INFO=LOAD failed (exit {result.returncode})"
        if result.error is None and result.returncode == 0:
            try:
                loads[result.target] = parse_load(result.stdout)
                continue
            except CtysError as exc:
                reason = str(exc)
        print(error_line(replace(result, error=reason)), file=err)
    for cand in found:
        if cand.local:
            loads[cand.host] = host_load()
    return loads
