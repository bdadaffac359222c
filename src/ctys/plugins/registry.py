"""Find and load hypervisor plugins registered under the ``ctys.plugins`` entry-point group.

A new hypervisor is one more installed package declaring, in its ``pyproject.toml``::

    [project.entry-points."ctys.plugins"]
    XEN = "ctys_xen:XenPlugin"

The entry point names a class (or factory) called without arguments to get the ``Plugin``.
Lookups are lazy: ``importlib.metadata`` is imported only when a plugin is actually needed, so
``ctys -h`` stays fast.

Plugins shipped inside this distribution are also found without the metadata: every
sub-package of ``ctys.plugins`` is one, named after its folder upper-cased, built by the
package's ``make_plugin``. When ``-t`` is not given, the session type is the one built-in
plugin (the registry names no hypervisor itself).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ctys.errors import CtysError, UsageError

if TYPE_CHECKING:
    from ctys.plugins.base import Plugin

ENTRY_POINT_GROUP = "ctys.plugins"
ALL_PLUGINS = "ALL"
BUILTIN_FACTORY = "make_plugin"  # what a built-in plugin package names its factory

PluginFactory = Callable[[], "Plugin"]


@cache
def builtin_plugins() -> Mapping[str, str]:
    """Plugins shipped in this distribution: upper-cased name -> ``module:factory``.

    They are registered as entry points too; finding them by folder lets a command that only
    needs a built-in plugin skip reading the metadata of every installed package (~12-30 ms,
    paid on every command line)."""
    here = Path(__file__).parent
    found: dict[str, str] = {}
    with os.scandir(here) as entries:
        for entry in entries:
            if entry.is_dir() and (Path(entry.path) / "__init__.py").is_file():
                found[entry.name.upper()] = f"{__package__}.{entry.name}:{BUILTIN_FACTORY}"
    return dict(sorted(found.items()))


def default_plugin() -> str:
    """The session type used when ``-t``/``-T`` names none: the one built-in plugin, else
    the one installed plugin; several or none is a ``UsageError`` asking for ``-t``."""
    builtins = tuple(builtin_plugins())
    if len(builtins) == 1:
        return builtins[0]
    installed = known_plugins()  # reads every package's metadata: only when needed
    if len(installed) == 1:
        return installed[0]
    listing = ", ".join(known_plugins()) or "none installed"
    raise UsageError(f"no default session type; name one with -t (known: {listing})")


def plugin_factories() -> Mapping[str, PluginFactory]:
    """Registered plugins by upper-cased name; each value builds the plugin when called.

    This is the one place that reads entry points (tests replace it with a fake registry).
    """
    from importlib.metadata import entry_points

    factories: dict[str, PluginFactory] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        factories[entry.name.upper()] = _lazy_factory(entry.name.upper(), entry.load)
    return factories


def _builtin_load(spec: str) -> Callable[[], object]:
    def load() -> object:
        import importlib

        module, _, attr = spec.partition(":")
        return getattr(importlib.import_module(module), attr)

    return load


def _factories_for(names: Sequence[str]) -> Mapping[str, PluginFactory]:
    """Factories covering ``names``: built-ins without touching entry points when that is
    enough, the full registry otherwise."""
    upper = [n.upper() for n in names]
    builtins = builtin_plugins()
    if upper and all(n in builtins for n in upper):
        return {n: _lazy_factory(n, _builtin_load(builtins[n])) for n in upper}
    return plugin_factories()


def _lazy_factory(name: str, load: Callable[[], object]) -> PluginFactory:
    # Importing the plugin module is deferred to the call, so listing names stays cheap.
    def build() -> Plugin:
        try:
            factory = cast("Callable[[], Plugin]", load())
        except (ImportError, AttributeError) as exc:
            # A broken or half-installed plugin package: one line, traceback with -d 2.
            raise CtysError(f"plugin {name} cannot be loaded: {exc}") from exc
        return factory()

    return build


def known_plugins() -> tuple[str, ...]:
    """Names of every registered plugin, sorted."""
    return tuple(sorted(plugin_factories()))


def resolve_types(names: Sequence[str]) -> tuple[str, ...]:
    """Expand ``ALL`` to every registered plugin and default an empty list to
    ``default_plugin()``.

    Unknown names raise ``UsageError`` listing the known ones.
    """
    if not names:
        return (default_plugin(),)
    if all(n.upper() in builtin_plugins() for n in names):
        return tuple(n.upper() for n in names)
    known = known_plugins()
    if tuple(name.upper() for name in names) == (ALL_PLUGINS,):
        if not known:
            raise CtysError("no ctys plugins are installed")
        return known
    resolved = tuple(name.upper() for name in names)
    for name in resolved:
        if name not in known:
            raise _unknown(name, known)
    return resolved


def load_plugin(name: str) -> Plugin:
    """Instantiate the plugin registered as ``name`` (case-insensitive).

    Unknown names raise ``UsageError`` listing the known ones; a plugin whose module cannot be
    imported raises ``CtysError`` (the original exception is chained for ``-d 2``).
    """
    factories = _factories_for([name])
    factory = factories.get(name.upper())
    if factory is None:
        raise _unknown(name, tuple(sorted(factories)))
    return factory()


def _unknown(name: str, known: tuple[str, ...]) -> UsageError:
    listing = ", ".join(known) if known else "none installed"
    return UsageError(f"unknown plugin type '{name}' (known: {listing})")
