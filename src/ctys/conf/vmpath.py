"""Where VM conf files live: the folders of ``$CTYS_VMPATH`` (ENUMERATE, CREATE, addresses)."""

from __future__ import annotations

import os
from pathlib import Path


def default_base_paths() -> tuple[Path, ...]:
    """``$CTYS_VMPATH`` (``:``-separated), else ``~/qemu``."""
    env = os.environ.get("CTYS_VMPATH")
    if env:
        return tuple(Path(p).expanduser() for p in env.split(":") if p)
    return (Path.home() / "qemu",)
