"""What the plugins offer the shell: actions and their suboption keys, kept in a small cache.

The truth is the plugin registry (``Plugin.actions()``, ``Plugin.suboptions(action)``), but
loading a plugin imports its package (~50 ms for one): too slow for every key press. So the
built-in plugins' catalogs are written to ``$XDG_CACHE_HOME/ctys/completion.json`` (0600)
with the source files of every ctys module loaded to build them and a stamp of those files
(size, mtime) and of the ctys version: a completion call stats those files (a few dozen
``stat`` calls, well under a millisecond) and only a change loads the registry again. A
plugin that is only an entry point of another package is asked live (``-t`` names it).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ctys.pathutil import user_cache_dir
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
    return user_cache_dir() / CACHE_NAME


def fingerprint(files: Iterable[str]) -> str:
    """A stamp that changes when one of ``files`` (or ctys' version) changes, and that is
    another for another ctys install (a checkout, a second venv): a cache one of them wrote
    names its own files, which the other's edits never touch."""
    import ctys

    parts = [f"v{_FORMAT}", ctys.__version__, str(Path(ctys.__file__).resolve().parent)]
    for name in files:
        try:
            stat = Path(name).stat()
        except OSError:
            parts.append(f"{name}:-")
            continue
        parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def loaded_ctys_files() -> list[str]:
    """The source files of the ctys modules imported so far (what a catalog was made of)."""
    found = {
        str(getattr(module, "__file__", None))
        for name, module in list(sys.modules.items())
        if (name == "ctys" or name.startswith("ctys.")) and getattr(module, "__file__", None)
    }
    return sorted(found)


def load_catalogs(path: Path | None = None) -> Catalogs:
    """The built-in plugins' catalogs: from the cache while its stamp is current, else from
    the registry (the cache is written again; an unwritable cache is no error)."""
    from ctys.plugins.registry import builtin_plugins

    path = path or cache_path()
    names = list(builtin_plugins())
    cached = _read(path, names)
    if cached is not None:
        return cached
    catalogs = {name: catalog_of(name) for name in names}
    with contextlib.suppress(OSError):
        _write(path, names, loaded_ctys_files(), catalogs)
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


def _read(path: Path, names: list[str]) -> Catalogs | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = [str(f) for f in data["files"]]
        if data.get("names") != names or data.get("stamp") != fingerprint(files):
            return None
        return from_json(data["plugins"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, foreign or broken: rebuilt from the registry


def _write(path: Path, names: list[str], files: list[str], catalogs: Catalogs) -> None:
    from ctys.atomicfile import write_text_atomically
    from ctys.privfile import create_private_dir

    create_private_dir(path.parent)
    # The tables keep their order (the plugin lists its keys in a meaningful order).
    data = {
        "names": names,
        "files": files,
        "stamp": fingerprint(files),
        "plugins": to_json(catalogs),
    }
    text = json.dumps(data)
    write_text_atomically(path, lambda fh: fh.write(text), mode=0o600)


def action_names(catalogs: Iterable[PluginCatalog]) -> dict[str, str]:
    """Every action of the given catalogs, name -> help (the first plugin's help wins)."""
    names: dict[str, str] = {}
    for cat in catalogs:
        for action, text in cat.actions.items():
            names.setdefault(action, text)
    return names
