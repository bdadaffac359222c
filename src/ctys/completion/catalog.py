"""What the plugins offer the shell: actions and their suboption keys, kept in a small cache.

The truth is the plugin registry (``Plugin.actions()``, ``Plugin.suboptions(action)``), but
loading a plugin imports its package (~50 ms for one): too slow for every key press. So the
catalog is written to ``$XDG_CACHE_HOME/ctys/completion.json`` (0600) with a fingerprint of
the built-in plugins' files (name, size, mtime of each top-level module of each plugin
package, and the ctys version); a completion call compares the fingerprint (a few
``stat`` calls) and only a changed plugin loads the registry again. A plugin that is only
an entry point of another package is asked live (``-t`` names it).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ctys.plugins.subopts import SuboptionSpec, ValueKind

CACHE_NAME = "completion.json"
_FORMAT = 1  # bump when the JSON layout changes


@dataclass(frozen=True)
class PluginCatalog:
    """One plugin's actions (name -> help) and each action's suboption keys."""

    actions: Mapping[str, str]
    suboptions: Mapping[str, Mapping[str, SuboptionSpec]]


Catalogs = Mapping[str, PluginCatalog]


def cache_path() -> Path:
    """``$XDG_CACHE_HOME/ctys/completion.json``, else ``~/.cache/ctys/completion.json``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ctys" / CACHE_NAME


def fingerprint(plugin_dirs: Mapping[str, Path]) -> str:
    """A string that changes when a built-in plugin's top-level modules change."""
    from ctys import __version__

    parts = [f"v{_FORMAT}", __version__]
    for name, folder in sorted(plugin_dirs.items()):
        parts.append(name)
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.endswith(".py"):
                    stat = entry.stat()
                    parts.append(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def builtin_plugin_dirs() -> dict[str, Path]:
    """The folders of the plugins shipped in ctys (registry's ``builtin_plugins``)."""
    from ctys.plugins.registry import builtin_plugins

    root = Path(__file__).resolve().parent.parent / "plugins"
    return {
        name: root / spec.split(":")[0].rsplit(".", 1)[-1]
        for name, spec in builtin_plugins().items()
    }


def load_catalogs(path: Path | None = None) -> Catalogs:
    """The built-in plugins' catalogs: from the cache when its fingerprint is current, else
    from the registry (the cache is written again; an unwritable cache is no error)."""
    path = path or cache_path()
    dirs = builtin_plugin_dirs()
    stamp = fingerprint(dirs)
    cached = _read(path, stamp)
    if cached is not None:
        return cached
    catalogs = {name: catalog_of(name) for name in dirs}
    with contextlib.suppress(OSError):
        _write(path, stamp, catalogs)
    return catalogs


def catalog_of(name: str) -> PluginCatalog:
    """Ask the registry's plugin ``name`` (loads it); ``CtysError`` when it cannot."""
    from ctys.plugins.registry import load_plugin

    plugin = load_plugin(name)
    actions = dict(plugin.actions())
    return PluginCatalog(actions, {a: dict(plugin.suboptions(a)) for a in actions})


def to_json(catalogs: Catalogs) -> dict[str, object]:
    """The JSON form of ``catalogs`` (the cache's ``plugins``)."""
    return {
        name: {
            "actions": dict(cat.actions),
            "suboptions": {
                action: {
                    key: {"help": s.help, "kind": s.kind.value, "choices": list(s.choices)}
                    for key, s in table.items()
                }
                for action, table in cat.suboptions.items()
            },
        }
        for name, cat in catalogs.items()
    }


def from_json(data: object) -> Catalogs:
    """``to_json``'s output back; ``ValueError`` (or ``KeyError``/``TypeError``) if it is not."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    catalogs: dict[str, PluginCatalog] = {}
    for name, entry in data.items():
        actions = {str(k): str(v) for k, v in entry["actions"].items()}
        subs = {
            str(action): {str(key): _spec(raw) for key, raw in table.items()}
            for action, table in entry["suboptions"].items()
        }
        catalogs[str(name)] = PluginCatalog(actions, subs)
    return catalogs


def _spec(raw: Mapping[str, object]) -> SuboptionSpec:
    choices = raw.get("choices", [])
    if not isinstance(choices, list):
        raise ValueError("choices is not a list")
    return SuboptionSpec(str(raw["help"]), ValueKind(raw["kind"]), tuple(map(str, choices)))


def _read(path: Path, stamp: str) -> Catalogs | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("fingerprint") != stamp:
            return None
        return from_json(data["plugins"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, foreign or broken: rebuilt from the registry


def _write(path: Path, stamp: str, catalogs: Catalogs) -> None:
    from ctys.atomicfile import write_text_atomically
    from ctys.privfile import create_private_dir

    create_private_dir(path.parent)
    # The tables keep their order (the plugin lists its keys in a meaningful order).
    text = json.dumps({"fingerprint": stamp, "plugins": to_json(catalogs)})
    write_text_atomically(path, lambda fh: fh.write(text), mode=0o600)


def action_names(catalogs: Iterable[PluginCatalog]) -> dict[str, str]:
    """Every action of the given catalogs, name -> help (the first plugin's help wins)."""
    names: dict[str, str] = {}
    for cat in catalogs:
        for action, text in cat.actions.items():
            names.setdefault(action, text)
    return names
