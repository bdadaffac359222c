"""The plugin boundary: a second plugin (``tests/fakeplugin``, session type FAKE, found only
by its entry point) runs through the core's fan-out, which asks it how its targets' rows
merge; the core names no action of its own for that."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ctys.argscan import scan_argv
from ctys.cli.dispatch import target_args
from support.cli import run_ctys

FAKEPLUGIN = Path(__file__).resolve().parents[1] / "fakeplugin"


@pytest.fixture
def fake_on_path(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The FAKE plugin registered here (sys.path) and for child ctys (PYTHONPATH)."""
    monkeypatch.syspath_prepend(str(FAKEPLUGIN))
    path = os.pathsep.join(p for p in (str(FAKEPLUGIN), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "CTYS_HOSTNAME": "here"}


def test_the_plugin_sets_what_its_targets_run(fake_on_path: dict[str, str]) -> None:
    # FAKE's targets answer LIST=JSON and nothing more (QEMU's adds -o ALL).
    inv = scan_argv(["-t", "FAKE", "-a", "LIST", "h1", "h2"])
    assert target_args(inv, inv.targets[0]) == ["-t", "FAKE", "-a", "LIST=JSON"]


def test_a_plugin_without_merging_gets_plain_lines(fake_on_path: dict[str, str]) -> None:
    inv = scan_argv(["-t", "FAKE", "-a", "INFO", "h1"])
    assert target_args(inv, inv.targets[0]) == ["-t", "FAKE", "-a", "INFO"]


def _ctys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_ctys(*args, env=env)


def test_fake_list_of_two_targets_is_merged_by_its_plugin(fake_on_path: dict[str, str]) -> None:
    # Two local targets: each runs as its own ctys subprocess (the fan-out), answers JSON.
    done = _ctys(fake_on_path, "-t", "FAKE", "-a", "LIST", "localhost", "127.0.0.1")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "HOST PET SOUND",
        "localhost cat-of-here meow",
        "localhost dog-of-here woof",
        "127.0.0.1 cat-of-here meow",
        "127.0.0.1 dog-of-here woof",
    ]
    done = _ctys(fake_on_path, "-t", "FAKE", "-a", "LIST=JSON", "localhost", "127.0.0.1")
    assert done.returncode == 0
    assert [(r["HOST"], r["PET"]) for r in json.loads(done.stdout)][::2] == [
        ("localhost", "cat-of-here"),
        ("127.0.0.1", "cat-of-here"),
    ]


def test_a_bad_suboption_fails_before_the_fan_out(fake_on_path: dict[str, str]) -> None:
    done = _ctys(fake_on_path, "-t", "FAKE", "-a", "LIST=TITLE", "localhost", "nosuchhost")
    assert done.returncode == 2, done.stderr
    assert done.stderr == "ctys: unknown FAKE LIST suboption 'TITLE' (valid: JSON)\n"


def test_the_plugin_says_which_calls_attach_the_terminal(
    fake_on_path: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CREATE with the CLI console attaches a terminal for QEMU, not for FAKE, whose own
    # rule (it has no consoles) the core asks; QEMU's default console (VNC) does not.
    from ctys.cli import dispatch

    qemu = scan_argv(["-t", "QEMU", "-a", "CREATE=l:vm1,CONSOLE:CLI", "h1"])
    fake = scan_argv(["-t", "FAKE", "-a", "CREATE=l:vm1,CONSOLE:CLI", "h1"])
    assert dispatch._attaches_terminal(qemu) is True
    assert dispatch._attaches_terminal(fake) is False
    default = scan_argv(["-t", "QEMU", "-a", "CREATE=l:vm1", "h1"])
    assert dispatch._attaches_terminal(default) is False
    background = scan_argv(["-t", "QEMU", "-a", "CREATE=l:vm1,CONSOLE:CLI", "-b", "1", "h1"])
    assert dispatch._attaches_terminal(background) is False
