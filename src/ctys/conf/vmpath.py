"""Where VM conf files live: the folders of ``$CTYS_VMPATH`` (ENUMERATE, CREATE, addresses)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def default_base_paths(homes: Sequence[str]) -> tuple[Path, ...]:
    """``$CTYS_VMPATH`` (``:``-separated), else each plugin's folder under ``$HOME``
    (``homes``: the ``vm_home`` of the plugins asked)."""
    env = os.environ.get("CTYS_VMPATH")
    if env:
        return tuple(Path(p).expanduser() for p in env.split(":") if p)
    return tuple(dict.fromkeys(Path.home() / home for home in homes))
