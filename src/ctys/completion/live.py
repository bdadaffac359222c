"""The real ``Sources`` of completion: built-in plugins, their cached catalogs, the
inventory's labels, ssh's hosts, the host group folders and the file system."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from ctys.completion import sources
from ctys.completion.catalog import Catalogs, PluginCatalog, catalog_of, load_catalogs
from ctys.errors import CtysError


class LiveSources:
    """Reads each kind of name once, when the word being completed needs it."""

    def __init__(self, inventory: Path | None = None) -> None:
        self._inventory = inventory

    @classmethod
    def for_words(cls, words: Sequence[str]) -> LiveSources:
        """Sources for a command line: its ``--inventory PATH`` names the inventory whose
        labels are offered (else the default one)."""
        from ctys.argscan import INVENTORY_OPTION

        path: str | None = None
        for index, word in enumerate(words):
            if word == INVENTORY_OPTION and index + 1 < len(words):
                path = words[index + 1]
            elif word.startswith(INVENTORY_OPTION + "="):
                path = word.split("=", 1)[1]
        return cls(Path(path).expanduser() if path else None)

    @cached_property
    def _builtin(self) -> Catalogs:
        return load_catalogs()

    def plugin_names(self) -> Sequence[str]:
        from ctys.plugins.registry import builtin_plugins

        return list(builtin_plugins())

    def catalogs(self, types: Sequence[str]) -> Catalogs:
        """The named plugins' catalogs (every built-in one when none is named); a plugin
        that is no built-in one is loaded from its entry point, one that fails is left out."""
        if not types:
            return self._builtin
        found: dict[str, PluginCatalog] = {}
        for name in types:
            if name in self._builtin:
                found[name] = self._builtin[name]
                continue
            try:
                found[name] = catalog_of(name)
            except CtysError:
                continue
        return found

    def labels(self) -> Sequence[str]:
        return sources.inventory_labels(self._inventory)

    def hosts(self) -> Sequence[str]:
        return sources.ssh_hosts()

    def groups(self) -> Sequence[str]:
        return sources.group_names()

    def paths(self, prefix: str) -> Sequence[str]:
        return path_candidates(prefix)


def path_candidates(prefix: str, limit: int = 200) -> list[str]:
    """Entries of the folder ``prefix`` names that start with its last part; folders end
    in ``/``; ``~`` stays as typed. At most ``limit`` (a huge folder stays fast)."""
    folder, _, start = prefix.rpartition("/")
    shown = f"{folder}/" if folder or prefix.startswith("/") else ""
    found: list[str] = []
    try:
        real = Path(folder or ("/" if prefix.startswith("/") else ".")).expanduser()
        with os.scandir(real) as entries:
            for entry in entries:
                if not entry.name.startswith(start) or (entry.name[0] == "." and not start):
                    continue
                slash = "/" if entry.is_dir() else ""
                found.append(f"{shown}{entry.name}{slash}")
                if len(found) >= limit:
                    break
    except (OSError, RuntimeError):  # RuntimeError: ~user of no user
        return []
    return sorted(found)
