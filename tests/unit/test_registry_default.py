"""The registry names no hypervisor: built-in plugins are the sub-packages of ctys.plugins,
and the default session type is the only built-in (else the only installed) plugin."""

from __future__ import annotations

import pytest

from ctys.errors import UsageError
from ctys.plugins import registry


def test_builtin_plugins_are_the_plugin_packages() -> None:
    assert registry.builtin_plugins() == {"QEMU": "ctys.plugins.qemu:make_plugin"}


def test_builtin_factory_builds_the_plugin() -> None:
    plugin = registry.load_plugin("qemu")
    assert plugin.name == "QEMU"


def test_default_is_the_single_builtin() -> None:
    assert registry.resolve_types(()) == ("QEMU",)


def test_default_without_builtins_is_the_single_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "builtin_plugins", dict)
    monkeypatch.setattr(registry, "known_plugins", lambda: ("XEN",))
    assert registry.default_plugin() == "XEN"


def test_several_plugins_and_no_builtin_ask_for_t(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "builtin_plugins", dict)
    monkeypatch.setattr(registry, "known_plugins", lambda: ("FAKE", "XEN"))
    with pytest.raises(UsageError, match=r"name one with -t \(known: FAKE, XEN\)"):
        registry.default_plugin()
