"""Where the per-user inventory file lives, from the environment alone (``os``: no
``pathlib``, no SQLite, so that a command needing only the path loads nothing more)."""

from __future__ import annotations

import os


def default_inventory_file() -> str:
    """``$CTYS_INVENTORY``, else ``$XDG_DATA_HOME/ctys/inventory.sqlite``, else
    ``~/.local/share/ctys/inventory.sqlite`` (``~`` expanded)."""
    explicit = os.environ.get("CTYS_INVENTORY")
    if explicit:
        return os.path.expanduser(explicit)
    data_home = os.environ.get("XDG_DATA_HOME")
    base = data_home if data_home else os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "ctys", "inventory.sqlite")
