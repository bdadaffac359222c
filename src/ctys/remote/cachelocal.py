"""``-c ON,LOCAL[,ONLY]`` for a remote target: the caller's cacheDB alone resolves the
address, as in the original (the entry found here becomes the address the target gets).

The caller's inventory row for the addressed VM on that target (HOST = the target as
typed, as ENUMERATE of that target stored it) gives the conf path there; the action is sent
with ``P:<that path>`` and the target does not consult its own inventory (``-C off``). No
such row: the address goes as typed and the target scans its folders, or, with ``ONLY``,
it is an error here and nothing is sent.
"""

from __future__ import annotations

from ctys.errors import AddressError
from ctys.invocation import Invocation, Target
from ctys.remote.ssh import target_name

__all__ = ["localized_action"]


def localized_action(own: Invocation, target: Target) -> str | None:
    """The action word ``target`` gets (``NAME=P:<conf>,...``), or ``None`` to send it as
    given; ``AddressError`` with ``ONLY`` when the caller's inventory does not know it."""
    from ctys.address.model import ADDRESS_KEYS, with_address
    from ctys.inventory.settings import inventory_choice, this_host
    from ctys.remote.options import action_word
    from ctys.remote.placement import candidates

    call = own.action
    if call is None or not any(s.key in ADDRESS_KEYS for s in call.suboptions):
        return None
    path = inventory_choice(own).path
    found = candidates(call, path, this_host()) if path is not None else []
    name = target_name(target)
    pnames = [c.pname for c in found if c.host in (name, target.host)]
    if pnames:
        return action_word(with_address(call, f"P:{pnames[0]}"))
    if own.cache_only:
        raise AddressError(
            f"{name}: {action_word(call)}: no entry for that host in this host's inventory"
            f" {path} (-c ON,LOCAL,ONLY: the local cacheDB alone; run ENUMERATE {name})"
        )
    return None
