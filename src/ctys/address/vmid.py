"""The runtime ID of a VM: what a ``VMID:`` address names and what a plugin names a running
VM's runtime folder by. Pure; imports nothing of ctys."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def vm_id(label: str, conf_path: Path) -> str:
    """Stable, filesystem-safe id of a VM: its label plus a hash of its conf path."""
    digest = hashlib.sha1(str(conf_path).encode(), usedforsecurity=False).hexdigest()[:8]
    name = _SAFE.sub("_", label)[:24] or "vm"
    return f"{name}-{digest}"
