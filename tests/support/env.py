"""A private ctys environment (runtime dir, VM folder, inventory, caches; TCG pinned)."""

from __future__ import annotations

from pathlib import Path


def private_ctys_env(root: Path) -> dict[str, str]:
    """The ctys variables of a private environment under ``root``: own runtime dir and VM
    folder (``root/vms``, created), inventory and caches, TCG pinned."""
    vms = root / "vms"
    vms.mkdir(exist_ok=True)
    return {
        "CTYS_RUNTIME_DIR": str(root / "rt"),
        "CTYS_VMPATH": str(vms),
        "CTYS_ACCEL": "tcg",
        "CTYS_INVENTORY": str(root / "inventory.sqlite"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "XDG_STATE_HOME": str(root / "state"),
    }
