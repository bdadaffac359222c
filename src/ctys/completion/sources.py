"""Where completion finds names: VM labels (the inventory, read-only), hosts (``~/.ssh/config``
``Host`` lines without wildcards, plain names in ``~/.ssh/known_hosts``) and host groups
(the file names under ``~/.ctys/groups`` and ``$CTYS_GROUPS_PATH``).

Every reader is lenient: a missing or unreadable file gives no names, never an error (a
completion must not print errors into the user's command line).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

# Characters of a host pattern (ssh_config(5) PATTERNS) and of hashed or bracketed entries.
_WILDCARDS = frozenset("*?!")
_HOSTNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*", re.ASCII)
GROUPS_ENV = "CTYS_GROUPS_PATH"


def inventory_labels(path: Path | None = None) -> list[str]:
    """The labels in the inventory at ``path`` (default: ``--inventory``'s default), read-only."""
    from ctys.errors import CtysError
    from ctys.inventory.store import Inventory, default_inventory_path

    path = path or default_inventory_path()
    if not path.is_file():
        return []
    try:
        with Inventory.open_readonly(path) as inventory:
            return inventory.labels()
    except (CtysError, OSError):
        return []


def ssh_config_hosts(text: str) -> list[str]:
    """The names of ``Host`` lines (``Host a b``, ``Host=a``) that are no patterns."""
    names: list[str] = []
    for line in text.splitlines():
        words = line.strip().replace("=", " ", 1).split()
        if len(words) < 2 or words[0].lower() != "host":
            continue
        names.extend(w for w in words[1:] if _plain(w))
    return names


def known_hosts_names(text: str) -> list[str]:
    """Plain host names of a ``known_hosts`` file: no hashed (``|1|``), bracketed
    (``[host]:port``), marker (``@revoked``) or pattern entries."""
    names: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "|", "@")):
            continue
        names.extend(w for w in line.split(None, 1)[0].split(",") if _plain(w))
    return names


def _plain(word: str) -> bool:
    return not (_WILDCARDS & set(word)) and _HOSTNAME.fullmatch(word) is not None


def ssh_hosts(home: Path | None = None) -> list[str]:
    """Hosts from ``~/.ssh/config`` and ``~/.ssh/known_hosts``, sorted, each once."""
    ssh = (home or Path.home()) / ".ssh"
    found = set(ssh_config_hosts(_read(ssh / "config")))
    found |= set(known_hosts_names(_read(ssh / "known_hosts")))
    return sorted(found)


def groups_dirs() -> list[Path]:
    """The group folders as the original searches them: ``~/.ctys/groups``, then each folder
    of ``$CTYS_GROUPS_PATH`` (``:``-separated)."""
    dirs = [Path.home() / ".ctys" / "groups"]
    dirs += [Path(p).expanduser() for p in os.environ.get(GROUPS_ENV, "").split(":") if p]
    return list(dict.fromkeys(dirs))


def group_names(dirs: Iterable[Path] | None = None) -> list[str]:
    """The host group names: the names of the regular files in the group folders (their
    paths below them, ``a/b``, for files in sub-folders), sorted, each once."""
    names: set[str] = set()
    for folder in groups_dirs() if dirs is None else dirs:
        with contextlib.suppress(OSError):
            for path in folder.rglob("*"):
                rel = path.relative_to(folder)
                if path.is_file() and not any(p.startswith(".") for p in rel.parts):
                    names.add(rel.as_posix())
    return sorted(names)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
