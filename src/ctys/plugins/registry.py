"""Find and load hypervisor plugins registered under the ``ctys.plugins`` entry-point group.

A new hypervisor is one more installed package declaring, in its ``pyproject.toml``::

    [project.entry-points."ctys.plugins"]
    XEN = "ctys_xen:XenPlugin"

The entry point names a class (or factory) called without arguments to get the ``Plugin``.
Lookups are lazy: ``importlib.metadata`` is imported only when a plugin is actually needed, so
``ctys -h`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from ctys.errors import CtysError, UsageError

if TYPE_CHECKING:
    from ctys.plugins.base import Plugin

ENTRY_POINT_GROUP = "ctys.plugins"
DEFAULT_PLUGIN = "QEMU"
ALL_PLUGINS = "ALL"

PluginFactory = Callable[[], "Plugin"]


# Plugins shipped in this package. They are registered as entry points too; naming them here
# lets a command that only needs QEMU skip reading the metadata of every installed package
# (~12 ms, paid on every command line).
BUILTIN_PLUGINS: dict[str, str] = {"QEMU": "ctys.plugins.qemu:QemuPlugin"}


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
    if upper and all(n in BUILTIN_PLUGINS for n in upper):
        return {n: _lazy_factory(n, _builtin_load(BUILTIN_PLUGINS[n])) for n in upper}
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
    """Expand ``ALL`` to every registered plugin and default an empty list to QEMU.

    Unknown names raise ``UsageError`` listing the known ones.
    """
    if not names:
        return (DEFAULT_PLUGIN,)
    if all(n.upper() in BUILTIN_PLUGINS for n in names):
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
