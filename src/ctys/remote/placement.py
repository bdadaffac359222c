"""Where CREATE runs a VM that several hosts can run (multipath inventory rows).

Rule: a target given on the command line wins; else the least loaded candidate host
(1-minute load per CPU, then fewer running VMs, then the name). The plugin says how
(``ctys.plugins.base.Placement``): each remote candidate runs the plugin's load action
(``ctys -a ACTION``); this host answers in-process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ctys.address.model import (
    ADDRESS_KEYS,
    BASEPATH_KEYS,
    INVENTORY_FIELD,
    MachineAddress,
    address_from_suboption,
)
from ctys.errors import CtysError, VmStateError
from ctys.invocation import ActionCall, Invocation, Target
from ctys.plugins.answers import HostLoad
from ctys.plugins.base import Placement

if TYPE_CHECKING:
    from ctys.inventory.record import InventoryRecord
    from ctys.remote.fanout import RemoteSettings, TargetResult
    from ctys.remote.whereruns import RunsOn

__all__ = [
    "Candidate",
    "candidates",
    "choose",
    "create_call_for",
    "is_local_host",
    "place_create",
]


@dataclass(frozen=True)
class Candidate:
    """A host that can run the VM, and the VM's conf file as that host sees it."""

    host: str  # as recorded: the target name the user gave to ENUMERATE, or this host
    pname: str
    local: bool
    uuid: str = ""
    label: str = ""


def is_local_host(host: str, here: str) -> bool:
    """Whether an inventory HOST value means this machine."""
    return host in ("", "localhost", "127.0.0.1", here)


def candidates(call: ActionCall, inventory: Path, here: str) -> list[Candidate]:
    """The hosts the inventory says can run the one VM ``call`` addresses; empty when the
    address is not for the inventory (no address, ``BASEPATH``, runtime ``ID``), matches no
    VM or several VMs (the normal resolution then says so). Every term must match (the
    rule of ``ctys.address.match``; a repeated key is not dropped)."""
    terms: list[MachineAddress] = []
    for sub in call.suboptions:
        if sub.key in BASEPATH_KEYS:
            return []
        term = address_from_suboption(sub)
        if term is None:
            continue
        if term.kind not in INVENTORY_FIELD:
            return []
        terms.append(term)
    if not terms or not inventory.is_file():
        return []  # no inventory: nothing of it is loaded (CREATE resolves by scanning)
    from ctys.address.resolve import inventory_matches
    from ctys.inventory.store import Inventory

    with Inventory.open_readonly(inventory) as inv:
        records = inventory_matches(inv, terms)
    if len({r.vm_id for r in records}) != 1:
        return []
    return _by_host(records, here)


def _by_host(records: Sequence[InventoryRecord], here: str) -> list[Candidate]:
    seen: dict[str, Candidate] = {}
    for rec in sorted(records, key=lambda r: r.host):
        local = is_local_host(rec.host, here)
        key = "" if local else rec.host
        seen.setdefault(key, Candidate(rec.host, rec.pname, local, rec.uuid, rec.label))
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
    """The CREATE call for the chosen remote host: its conf file (``P:path`` as that host
    sees it) in place of the address, the other suboptions as given."""
    from ctys.address.model import with_address

    return with_address(call, f"P:{pname}")


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


@dataclass(frozen=True)
class _Asking:
    """What asking the candidate hosts needs: the call, where errors go, the fan-out
    settings, the plugin's rules, and how a recorded host name becomes a ``Target``."""

    invocation: Invocation
    err: TextIO
    settings: RemoteSettings
    placement: Placement
    target_of: Callable[[str], Target]


def place_create(
    invocation: Invocation,
    err: TextIO,
    settings: Callable[[], RemoteSettings],
    placement: Placement,
    target_of: Callable[[str], Target],
) -> Invocation | None:
    """Apply the placement rule to an action given no target: ``None`` to run it here, else
    the invocation to run on the chosen host (with that host's conf path as address).
    Prints one line naming the host and why; candidates that do not answer get their
    ``ctys: host: ...`` line and are passed over. ``target_of`` parses an inventory HOST
    (``[user@]host``, as the user named the target) the way the command line does.
    ``settings`` is called only when other hosts are to be asked (a VM only this host
    knows starts without loading the fan-out)."""
    from ctys.inventory.settings import inventory_choice, this_host

    call = invocation.action
    path = inventory_choice(invocation).path
    if call is None or path is None:
        return None
    found = candidates(call, path, this_host())
    if not found or (len(found) == 1 and found[0].local):
        return None
    ask = _Asking(invocation, err, settings(), placement, target_of)
    address = ",".join(s.raw for s in call.suboptions if s.key in ADDRESS_KEYS)
    silent: set[str] = set()
    if len(found) > 1:
        # A VM that runs already is attached to (``placement.attaches``) or refused, never
        # started a second time on another host.
        runs, silent = _where_running(ask, found)
        if runs:
            return _attach_or_refuse(ask, call, address, runs[0])
    asked = [c for c in found if c.host not in silent]
    loads = _ask_loads(ask, asked) if len(found) > 1 else {}
    if len(found) > 1 and not loads:
        raise CtysError(f"none of the hosts that can run the VM answered {placement.load_action}")
    local = next((c.host for c in found if c.local), None)
    chosen = choose(loads, local) if loads else found[0].host
    report_choice(address, chosen, loads, [c.host for c in found], err)
    return _on_host(ask, call, next(c for c in found if c.host == chosen))


def _on_host(ask: _Asking, call: ActionCall, pick: Candidate) -> Invocation | None:
    """The invocation that runs ``call`` on ``pick`` (``None``: this host)."""
    if pick.local:
        return None
    return replace(
        ask.invocation,
        action=create_call_for(call, pick.pname),
        targets=(ask.target_of(pick.host),),
    )


def _attach_or_refuse(
    ask: _Asking, call: ActionCall, address: str, runs: RunsOn
) -> Invocation | None:
    """The action for a VM that runs on a candidate host: one that attaches goes there;
    any other is refused (it would start the VM a second time)."""
    host = runs.candidate.host
    label = runs.candidate.label or address
    if not ask.placement.attaches(call):
        raise VmStateError(
            f"VM {label} already runs on {host} (pid {runs.pid}); {ask.placement.attach_hint}"
        )
    print(f"ctys: {address}: runs on {host} (pid {runs.pid}); attaching there", file=ask.err)
    return _on_host(ask, call, runs.candidate)


def _where_running(ask: _Asking, found: Sequence[Candidate]) -> tuple[list[RunsOn], set[str]]:
    """Where the VM runs: the plugin's running-VMs rows of the remote candidates (this host
    answers in-process)."""
    from ctys.remote.whereruns import where_running

    remote = [c for c in found if not c.local]
    results = _fan_out(ask, remote, ask.placement.running_args)
    return where_running(found, results, ask.err, ask.placement)


def _fan_out(ask: _Asking, remote: Sequence[Candidate], args: Sequence[str]) -> list[TargetResult]:
    """``ctys ARGS`` on each remote candidate over ssh, concurrently."""
    from ctys.remote.fanout import run_on_targets
    from ctys.remote.ssh import default_control_dir, ssh_argv

    if not remote:
        return []
    invocation, settings = ask.invocation, ask.settings
    kind = [f"-t{invocation.plugin_types[0]}"] if len(invocation.plugin_types) == 1 else []
    control = default_control_dir()
    return run_on_targets(
        [ask.target_of(c.host) for c in remote],
        lambda t: ssh_argv(
            t,
            [*kind, *args],
            user=invocation.remote_user,
            pty=False,
            connect_timeout=settings.connect_timeout,
            control_dir=control,
        ),
        max_parallel=settings.max_parallel,
        timeout=settings.connect_timeout + 20,
    )


def _ask_loads(ask: _Asking, found: Sequence[Candidate]) -> dict[str, HostLoad]:
    """Each candidate's load: remote ones over ssh (concurrently), this host in-process."""
    from ctys.remote.merge import error_line

    placement = ask.placement
    remote = [c for c in found if not c.local]
    results = _fan_out(ask, remote, ["-a", placement.load_action])
    loads: dict[str, HostLoad] = {}
    for result in results:
        reason = result.error or f"{placement.load_action} failed (exit {result.returncode})"
        if result.error is None and result.returncode == 0:
            try:
                loads[result.target] = placement.parse_load(result.stdout)
                continue
            except CtysError as exc:
                reason = str(exc)
        print(error_line(replace(result, error=reason)), file=ask.err)
    for cand in found:
        if cand.local:
            loads[cand.host] = placement.local_load()
    return loads
