"""Where group files are: the search path and the lookup of one name on it.

The original searches ``~/.ctys/groups`` first, then its installation's groups folder,
then the folders of ``CTYS_GROUPS_PATH`` (``:``-separated); the first file of the name wins.
ctys has no installation folder of groups: ``~/.ctys/groups``, then ``CTYS_GROUPS_PATH``.
A name may hold folders (``lab/x`` is the file ``x`` in the subfolder ``lab`` of a search
folder); an absolute path or one starting with ``./`` names a file directly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ctys.errors import UsageError

__all__ = ["ENV_GROUPS_PATH", "find_group", "group_names", "groups_path", "is_group_path"]

ENV_GROUPS_PATH = "CTYS_GROUPS_PATH"


def groups_path(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The folders searched for group files, in order (repeats dropped, ``~`` expanded)."""
    environ = os.environ if env is None else env
    home = environ.get("HOME") or str(Path.home())
    folders = [Path(home) / ".ctys" / "groups"]
    for entry in environ.get(ENV_GROUPS_PATH, "").split(":"):
        if entry:
            folders.append(Path(_expand_home(entry, home)))
    return tuple(dict.fromkeys(folders))


def _expand_home(entry: str, home: str) -> str:
    if entry == "~" or entry.startswith("~/"):
        return home + entry[1:]
    return entry


def is_group_path(name: str) -> bool:
    """Whether ``name`` can only be a group (never a host): it holds a ``/``."""
    return "/" in name


def find_group(name: str, path: Sequence[Path]) -> Path | None:
    """The group file ``name`` names, the first on ``path``; ``None`` when there is none.
    ``UsageError`` for a name that climbs out of the search folders (``..``)."""
    if not name or "\0" in name:
        return None
    if name.startswith(("/", "./")):
        candidate = Path(name)
        return candidate if candidate.is_file() else None
    parts = name.split("/")
    if ".." in parts:
        raise UsageError(f"bad group name '{name}': '..' is not allowed")
    for folder in path:
        candidate = folder.joinpath(*[p for p in parts if p and p != "."])
        if candidate.is_file():
            return candidate
    return None


def group_names(path: Sequence[Path], under: str = "") -> Iterator[tuple[str, Path]]:
    """Every group on ``path`` (or in its subfolder ``under``) as (name, file), by name; a
    name found in two folders only the first time (the one a lookup finds)."""
    seen: set[str] = set()
    for folder in path:
        base = folder / under if under else folder
        if not base.is_dir():
            continue
        found: list[tuple[str, Path]] = []
        for root, _dirs, files in os.walk(base):
            for file in files:
                full = Path(root) / file
                found.append((full.relative_to(folder).as_posix(), full))
        for name, full in sorted(found):
            if name not in seen and not full.name.startswith("."):
                seen.add(name)
                yield name, full
