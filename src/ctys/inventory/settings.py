"""Which inventory a command uses, from the generic options ``--inventory`` (location),
``-c`` (the original's ON|OFF) and ``-C`` (control: on, off, rebuild, clear, list)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ctys.inventory.location import default_inventory_file

if TYPE_CHECKING:
    # Annotations only: ``this_host`` is asked by entries that parse no command line.
    from ctys.invocation import CacheControl, Invocation


@dataclass(frozen=True)
class InventoryChoice:
    """``path`` is ``None`` when the inventory is switched off (``-C off``)."""

    path: Path | None
    control: CacheControl

    @property
    def enabled(self) -> bool:
        return self.path is not None


def inventory_choice(invocation: Invocation) -> InventoryChoice:
    """The inventory file of this invocation: ``--inventory PATH`` or the per-user
    default."""
    from ctys.invocation import CacheControl

    control = invocation.cache_control
    if control is CacheControl.OFF:
        return InventoryChoice(None, control)
    path = Path(invocation.cache_path).expanduser() if invocation.cache_path else None
    return InventoryChoice(path or default_inventory_path(), control)


def default_inventory_path() -> Path:
    """``$CTYS_INVENTORY``, else ``$XDG_DATA_HOME/ctys/inventory.sqlite``, else
    ``~/.local/share/ctys/inventory.sqlite``. (Here, not in ``inventory.store``: a command
    that only needs the path, e.g. CREATE when no inventory exists, loads no SQLite.)"""
    return Path(default_inventory_file())


def scanner_ids() -> tuple[str, str]:
    """The user and group names of this process, as the original's records carry the
    scanner's (fields 44, 45: ``$USER`` and ``id -g -n``); numbers where no name exists."""
    import grp
    import pwd

    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return user, group


def this_host() -> str:
    """The name records scanned here carry in their HOST field: ``$CTYS_HOSTNAME`` (set for
    a host reached over ssh, so its records carry the name the caller uses), else the host
    name."""
    # uname's node name is gethostname(2)'s answer; the socket module costs LIST an import.
    return os.environ.get("CTYS_HOSTNAME") or os.uname().nodename
