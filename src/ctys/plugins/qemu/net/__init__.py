"""Guest networking: NICs as typed values and their qemu arguments (``network``), the
conf keys (``netconf``), VDE switches and tap/bridge rights (``vde``), a guest's IP
(``guestip``).

May import the core and ``ctys.plugins.qemu.vm``; never ``ctys.cli``."""

from __future__ import annotations

from pathlib import Path


def vde_dir(runtime_root: Path) -> Path:
    """Where the managed VDE switches of a runtime dir live (``<runtime>/vde``). Here, not
    in ``network``: every LIST, CANCEL and CREATE asks whether the folder exists, and
    only then loads the network modules."""
    return runtime_root / "vde"
