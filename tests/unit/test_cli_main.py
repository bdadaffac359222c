"""The ctys entry point and plugin registry, with fake plugins instead of QEMU."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ctys.cli.main import main
from ctys.errors import CtysError, UsageError, VmStateError
from ctys.invocation import ActionCall, Target
from ctys.plugins import registry
from ctys.plugins.base import MergedAction, Placement, Plugin, RunContext


@dataclass
class FakePlugin:
    """Records what the CLI hands it; ``behaviour`` decides what ``run`` does."""

    name: str = "FAKE"
    calls: list[tuple[ActionCall, RunContext]] = field(default_factory=list)
    behaviour: Callable[[], int] = lambda: 0

    def actions(self) -> Mapping[str, str]:
        return {"LIST": "list VMs", "CREATE": "start a VM"}

    def help(self, action: str | None) -> str:
        return f"help for {self.name} {action or '(plugin)'}"

    def run(self, call: ActionCall, ctx: RunContext) -> int:
        self.calls.append((call, ctx))
        ctx.out.write(f"{self.name} ran {call.name}\n")
        return self.behaviour()

    def merged(self, action: str) -> MergedAction | None:
        return None  # several targets: plain lines

    def placement(self, action: str) -> Placement | None:
        return None

    def forwarding(self, action: str) -> None:
        return None  # -L CF: no client of its own

    def attaches_terminal(self, call: ActionCall, *, background: bool) -> bool:
        return False


def _returning(plugin: FakePlugin) -> Callable[[], Plugin]:
    return lambda: plugin


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakePlugin]:
    """Replace the entry-point lookup with two fake plugins, QEMU and XEN."""
    fakes = {"QEMU": FakePlugin("QEMU"), "XEN": FakePlugin("XEN")}

    def factories() -> Mapping[str, Callable[[], Plugin]]:
        return {name: _returning(plugin) for name, plugin in fakes.items()}

    monkeypatch.setattr(registry, "plugin_factories", factories)
    monkeypatch.setattr(registry, "builtin_plugins", dict)
    # Several plugins installed and none built in: the default is pinned as a built-in
    # plugin would make it.
    monkeypatch.setattr(registry, "default_plugin", lambda: "QEMU")
    return fakes


def test_action_runs_on_default_plugin(
    plugins: dict[str, FakePlugin], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-a", "create=l:vm1", "-d", "1"]) == 0
    ((call, ctx),) = plugins["QEMU"].calls
    assert call.name == "CREATE"
    assert call.suboptions[0].args == ("vm1",)
    assert ctx.invocation.plugin_types == ("QEMU",)
    assert ctx.debug == 1
    assert capsys.readouterr().out == "QEMU ran CREATE\n"
    assert plugins["XEN"].calls == []


def test_all_runs_every_plugin_and_returns_worst_status(
    plugins: dict[str, FakePlugin], capsys: pytest.CaptureFixture[str]
) -> None:
    plugins["XEN"].behaviour = lambda: 3
    assert main(["-T", "ALL", "-a", "LIST"]) == 3
    assert capsys.readouterr().out == "QEMU ran LIST\nXEN ran LIST\n"


def test_plugin_status_is_exit_status(plugins: dict[str, FakePlugin]) -> None:
    plugins["QEMU"].behaviour = lambda: 4
    assert main(["-t", "QEMU", "-a", "LIST"]) == 4


def test_ctys_error_becomes_one_line(
    plugins: dict[str, FakePlugin], capsys: pytest.CaptureFixture[str]
) -> None:
    def fail() -> int:
        raise VmStateError("vm1 is already running")

    plugins["QEMU"].behaviour = fail
    assert main(["-a", "CREATE=l:vm1"]) == 1
    assert capsys.readouterr().err == "ctys: vm1 is already running\n"


def test_debug_2_reraises_for_a_traceback(plugins: dict[str, FakePlugin]) -> None:
    def fail() -> int:
        raise VmStateError("boom")

    plugins["QEMU"].behaviour = fail
    with pytest.raises(VmStateError):
        main(["-a", "LIST", "-d", "2"])


def test_keyboard_interrupt_exits_130(plugins: dict[str, FakePlugin]) -> None:
    def interrupt() -> int:
        raise KeyboardInterrupt

    plugins["QEMU"].behaviour = interrupt
    assert main(["-a", "LIST"]) == 130


def test_broken_pipe_is_quiet(
    plugins: dict[str, FakePlugin], capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> int:
        raise BrokenPipeError

    plugins["QEMU"].behaviour = broken
    assert main(["-a", "LIST"]) == 141
    assert capsys.readouterr().err == ""


def test_usage_errors_exit_2(
    plugins: dict[str, FakePlugin], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-q"]) == 2
    assert capsys.readouterr().err == "ctys: unknown option '-q'\n"
    assert main(["-t", "QEMU"]) == 2
    assert "no action given" in capsys.readouterr().err
    assert main(["-a", "FROB"]) == 2
    assert capsys.readouterr().err == (
        "ctys: unknown action 'FROB' for QEMU (known: CREATE, LIST)\n"
    )
    assert main(["-t", "VBOX", "-a", "LIST"]) == 2
    assert capsys.readouterr().err == ("ctys: unknown plugin type 'VBOX' (known: QEMU, XEN)\n")
    assert plugins["QEMU"].calls == []


def test_remote_target_runs_through_ssh(
    plugins: dict[str, FakePlugin],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fake ssh that prints the words it was given: the remote command is the last one.
    fake = tmp_path / "ssh"
    fake.write_text('#!/bin/sh\nfor word in "$@"; do printf "%s\\n" "$word"; done\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CTYS_REMOTE_CTYS", raising=False)
    assert main(["-a", "CREATE=l:vm 1", "-l", "bob", "admin@far"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("admin@far: ") for line in lines)
    words = [line.removeprefix("admin@far: ") for line in lines]
    assert words[-4:] == ["-T", "--", "far", "ctys -a 'CREATE=l:vm 1'"]
    assert words[words.index("-l") + 1] == "admin"
    assert plugins["QEMU"].calls == []


def test_local_target_options_replace_global_ones(
    plugins: dict[str, FakePlugin], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-C", "off", "-a", "CREATE=l:vm1", "localhost(-a CREATE=l:vm2 -d 1)"]) == 0
    ((call, ctx),) = plugins["QEMU"].calls
    assert [s.raw for s in call.suboptions] == ["l:vm2"]
    assert ctx.debug == 1
    assert ctx.invocation.targets == (Target("localhost"),)
    assert capsys.readouterr().out == "QEMU ran CREATE\n"


def test_help_levels(plugins: dict[str, FakePlugin], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-h"]) == 0
    short = capsys.readouterr().out
    assert short.startswith("usage: ctys")
    assert "ctys -t QEMU -a CREATE=l:demo,CONSOLE:CLI" in short
    assert "Installed plugins" not in short
    assert main(["-H"]) == 0
    long = capsys.readouterr().out
    assert long.startswith(short.rstrip("\n"))
    assert "Installed plugins: QEMU, XEN" in long


def test_plugin_and_action_help(
    plugins: dict[str, FakePlugin], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-t", "xen", "-h"]) == 0
    assert capsys.readouterr().out == "help for XEN (plugin)\n"
    assert main(["-a", "create", "-h"]) == 0
    assert capsys.readouterr().out == "help for QEMU CREATE\n"
    assert main(["-a", "FROB", "-h"]) == 2
    assert plugins["QEMU"].calls == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from ctys import __version__

    assert main(["-V", "-a", "LIST"]) == 0
    assert capsys.readouterr().out == f"ctys {__version__}\n"


def test_registry_resolves_and_rejects(plugins: dict[str, FakePlugin]) -> None:
    assert registry.known_plugins() == ("QEMU", "XEN")
    assert registry.resolve_types([]) == ("QEMU",)
    assert registry.resolve_types(["ALL"]) == ("QEMU", "XEN")
    assert registry.resolve_types(["xen"]) == ("XEN",)
    assert registry.load_plugin("xen") is plugins["XEN"]
    with pytest.raises(UsageError, match=r"unknown plugin type 'KVM' \(known: QEMU, XEN\)"):
        registry.load_plugin("KVM")


def test_registry_reports_broken_plugin_module(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> object:
        raise ModuleNotFoundError("No module named 'ctys_nope'")

    broken = registry._lazy_factory("NOPE", missing)
    monkeypatch.setattr(registry, "plugin_factories", lambda: {"NOPE": broken})
    monkeypatch.setattr(registry, "builtin_plugins", dict)
    with pytest.raises(CtysError, match="plugin NOPE cannot be loaded: No module named"):
        registry.load_plugin("NOPE")


def test_real_entry_points_include_qemu() -> None:
    # pyproject registers QEMU; the lookup itself must find it (loading may not work yet).
    assert "QEMU" in registry.plugin_factories()


def test_help_path_imports_no_plugin_and_no_rich() -> None:
    code = (
        "import sys\n"
        "from ctys.cli.main import main\n"
        "rc = main(['-h'])\n"
        "heavy = [m for m in ('rich', 'importlib.metadata',"
        " 'ctys.plugins.qemu') if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []"
