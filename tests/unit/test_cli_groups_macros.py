"""The command lines of groups and macros: ``ctys`` with a group or a macro, ``ctys-groups``
and ``ctys-macros`` (issue 13, point 4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ctys.cli import groups as groups_cli
from ctys.cli import macros as macros_cli
from ctys.cli.main import main
from ctys.invocation import ActionCall, Target
from ctys.plugins import registry
from ctys.plugins.base import MergedAction, Placement, Plugin, RunContext
from support.files import write_file

LAB = "root@lab02'(-a create=l:LAB02,reuse -c local -g 1268x992:A11:ALL -b 1,2 )'"


@dataclass
class Recorder:
    """A plugin that records the invocation it runs with."""

    name: str = "QEMU"
    contexts: list[RunContext] = field(default_factory=list)

    def actions(self) -> Mapping[str, str]:
        return {"LIST": "list"}

    def help(self, action: str | None) -> str:
        return "help"

    def run(self, call: ActionCall, ctx: RunContext) -> int:
        self.contexts.append(ctx)
        return 0

    def merged(self, action: str) -> MergedAction | None:
        return None

    def placement(self, action: str) -> Placement | None:
        return None

    def attaches_terminal(self, call: ActionCall, *, background: bool) -> bool:
        return False


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    fake = Recorder()

    def factories() -> Mapping[str, Callable[[], Plugin]]:
        return {"QEMU": lambda: fake}

    monkeypatch.setattr(registry, "plugin_factories", factories)
    monkeypatch.setattr(registry, "builtin_plugins", dict)
    monkeypatch.setattr(registry, "default_plugin", lambda: "QEMU")
    return fake


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of its own with ~/.ctys/groups and ~/.ctys/macros, and an extra groups folder
    on CTYS_GROUPS_PATH."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CTYS_MACRO_PATH", raising=False)
    monkeypatch.setenv("CTYS_GROUPS_PATH", str(tmp_path / "extra"))
    for sub in (".ctys/groups", ".ctys/macros", "extra"):
        (tmp_path / sub).mkdir(parents=True)
    return tmp_path


def put(path: Path, text: str) -> None:
    write_file(path.parent, path.name, text)


# --- ctys ----------------------------------------------------------------------------------


def test_a_group_of_the_local_host_runs_here_with_its_members_options(
    plugin: Recorder, home: Path
) -> None:
    put(home / ".ctys/groups/here", "CONTEXT(-d 1)\nlocalhost\n")
    assert main(["-a", "LIST", "here"]) == 0
    [ctx] = plugin.contexts
    assert ctx.invocation.debug == 1
    assert ctx.invocation.targets == (Target("localhost"),)


def test_a_macro_gives_the_action_and_the_target(plugin: Recorder, home: Path) -> None:
    put(home / ".ctys/macros/default", "lhere=-a LIST here\n")
    put(home / "extra/here", "localhost(-d 1)\n")
    assert main(["MACRO:lhere"]) == 0
    assert plugin.contexts[0].invocation.debug == 1


def test_echo_shows_the_expansion_on_stderr(
    plugin: Recorder, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put(home / ".ctys/macros/default", "act=LIST\n")
    assert main(["-a", "MACRO:act%ECHO"]) == 0
    assert capsys.readouterr().err == "MACRO:act%ECHO = LIST\n"


@pytest.mark.parametrize(
    ("files", "argv", "status", "line"),
    [
        ({}, ["-a", "LIST", "lab/x"], 2, "ctys: no group 'lab/x' in CTYS_GROUPS_PATH ("),
        ({".ctys/groups/a": "b\n", "extra/b": "#include a\n"}, ["-a", "LIST", "a"], 2,
         "ctys: group cycle: a -> b -> a"),
        ({".ctys/macros/default": "x=1\n"}, ["-a", "MACRO:y"], 2, "ctys: unknown macro 'y' in"),
        ({".ctys/groups/g": "h(-d\n"}, ["-a", "LIST", "g"], 1, "ctys: "),
    ],
)  # fmt: skip
def test_errors_are_one_line(
    plugin: Recorder,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    argv: list[str],
    status: int,
    line: str,
) -> None:
    for name, text in files.items():
        put(home / name, text)
    assert main(argv) == status
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1, err
    assert plugin.contexts == []


def test_an_untrusted_group_file_stops_the_command_before_anything_runs(
    plugin: Recorder, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put(home / "extra/g", "localhost\n")
    (home / "extra/g").chmod(0o666)
    assert main(["-a", "LIST", "g"]) == 1
    assert "refusing group file" in capsys.readouterr().err
    assert plugin.contexts == []


# --- ctys-groups ---------------------------------------------------------------------------


def run_groups(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = groups_cli.main(list(args))
    return status, capsys.readouterr().out


def test_groups_default_listing_sizes_hosts_includes_total(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put(home / ".ctys/groups/lab/x", "a\nb,c\n")
    put(home / "extra/top", "#include lab/x\nd\n")
    status, out = run_groups(capsys)
    assert status == 0
    assert out.splitlines() == ["0.0 3/0 3 lab/x", "0.0 1/1 4 top"]
    assert run_groups(capsys, "-l", "-X")[1].splitlines() == ["6;3;lab/x", "17;1;top"]


def test_groups_members_in_the_originals_formats(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "me")
    put(home / ".ctys/groups/desktops/tst/ctys-lab", f"{LAB}\nlab03\nlab03\n")
    name = "desktops/tst/ctys-lab"
    opts = "-a create=l:LAB02,reuse -c local -g 1268x992:A11:ALL -b 1,2"
    assert run_groups(capsys, "-m", "3", name)[1] == (
        f"{name}:\n  root@lab02({opts})\n  lab03\n  lab03\n"
    )
    assert run_groups(capsys, "-m", "1", name)[1] == f"{name}:\n  lab02\n  lab03\n  lab03\n"
    assert run_groups(capsys, "-m", "4", name)[1] == f"'root@lab02({opts})' lab03 lab03\n"
    assert run_groups(capsys, "-m", "6", name)[1] == "root@lab02, me@lab03, me@lab03\n"
    assert run_groups(capsys, "-m", "7u", name)[1] == "root@lab02\nme@lab03\n"
    assert run_groups(capsys, "-m", "8", name)[1] == "lab02\nlab03\nlab03\n"
    assert run_groups(capsys, "-m", name)[1].startswith(f"{name}:\n  root@lab02(")  # -m alone: 3
    assert run_groups(capsys, "-m", "5x", name)[1].splitlines()[2] == f"3;{name};lab03"


def test_groups_folder_arguments_and_trees(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put(home / ".ctys/groups/lab/x", "a\n")
    put(home / ".ctys/groups/lab/deep/y", "b\n")
    put(home / ".ctys/groups/z", "c\n")
    assert [line.split()[-1] for line in run_groups(capsys, "lab/")[1].splitlines()] == [
        "lab/deep/y", "lab/x",
    ]  # fmt: skip
    tree = run_groups(capsys, "-F")[1].splitlines()
    assert tree[1:] == ["  lab/", "    deep/", "      y", "    x", "  z", f"{home}/extra/"]
    assert run_groups(capsys, "-S", "-D", "1")[1].splitlines()[1:] == ["  lab/", f"{home}/extra/"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e"], "-e (edit groups in an editor) is not supported"),
        (["-D", "2"], "-D needs -S or -F"),
        (["nothere"], "no group 'nothere'"),
        (["-q"], "unrecognized arguments: -q"),
    ],
)
def test_groups_bad_usage(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert groups_cli.main(args) == 2
    assert message in capsys.readouterr().err


def test_groups_c_says_there_is_no_cache(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert groups_cli.main(["-c"]) == 0
    assert "no group cache" in capsys.readouterr().err


# --- ctys-macros ---------------------------------------------------------------------------


def test_macros_listings(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put(home / ".ctys/macros/default", "A=1\nB = x macro:A\nC=macro:B%%macro:A\n")
    put(home / ".ctys/macros/other", "A=2\n")

    def out(*args: str) -> list[str]:
        assert macros_cli.main(list(args)) == 0
        return capsys.readouterr().out.splitlines()

    macros = home / ".ctys/macros"
    assert out() == [str(macros / "default"), str(macros / "other")]
    assert out("-a") == ["A"]
    assert out("-c") == ["B", "C"]
    assert out("-c", "-N") == ["B=x macro:A", "C=macro:B%%macro:A"]
    assert out("-E") == ["B=x 1", "C=x 1%%1"]
    assert out("-E", "-X") == ["B;x 1", "C;x 1%%1"]
    assert out("C", "A") == ["C=<x 1%%1>", "A=<1>"]
    assert out("-f", "other", "A") == ["A=<2>"]


def test_macros_bad_usage(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert macros_cli.main(["-f", "nofile"]) == 2
    assert "no macro file 'nofile'" in capsys.readouterr().err
    assert macros_cli.main(["-e", "x"]) == 2
    assert "not supported" in capsys.readouterr().err


def test_ctys_vhost_expands_macros_too(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ctys.cli import vhost

    put(home / ".ctys/macros/default", f"vmine=-o LABEL --inventory {home}/none.sqlite\n")
    assert vhost.main(["MACRO:vmine"]) == 1
    assert f"no inventory at {home}/none.sqlite" in capsys.readouterr().err
