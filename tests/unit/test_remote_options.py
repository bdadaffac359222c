"""Options a target runs with: the global ones, its own ``(...)`` ones replacing them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.argscan import parse_target, scan_argv
from ctys.cli.dispatch import target_args
from ctys.errors import UsageError
from ctys.invocation import Target
from ctys.remote.options import (
    escape_suboption_arg,
    invocation_options,
    merged_options,
    options_argv,
    target_invocation,
    target_option_values,
)


@pytest.mark.parametrize(
    "argv",
    [
        ["-t", "QEMU", "-a", "LIST"],
        ["-T", "QEMU,XEN", "-a", "CREATE=l:vm1,CONSOLE:VNC", "-b", "1", "-g", "800x600+1+2"],
        ["-T", "ALL", "-a", "INFO", "-d", "3", "-S", "INT,TERM", "-o", "label,uuid,json"],
        ["-a", "CREATE=l:a b,ARGSADD:-device%e1000\\,netdev=n0", "-c", "/x/inv", "-C", "off"],
        ["-a", "ENUMERATE=BASEPATH:/a%/b,TERSE", "-r", "1024x768", "-z", "pty", "-l", "bob"],
    ],
)
def test_invocation_round_trips_through_its_options(argv: list[str]) -> None:
    inv = scan_argv(argv)
    again = scan_argv(options_argv(invocation_options(inv), remote=False))
    assert again == inv


def test_target_options_replace_the_same_letters_only() -> None:
    inv = scan_argv(
        ["-t", "QEMU", "-a", "CREATE=l:vm1", "-d", "1", "-b", "0", "far(-a CREATE=l:vm2 -b1)"]
    )
    (target,) = inv.targets
    own = target_invocation(inv, target)
    assert own.action is not None
    assert [s.raw for s in own.action.suboptions] == ["l:vm2"]
    assert own.background is True
    assert own.debug == 1
    assert own.targets == (Target("far"),)
    assert target_args(inv, target) == ["-t", "QEMU", "-a", "CREATE=l:vm2", "-b", "1", "-d", "1"]


def test_dash_t_of_a_target_replaces_dash_capital_t() -> None:
    inv = scan_argv(["-T", "ALL", "-a", "LIST"])
    values = merged_options(inv, parse_target("h(-t QEMU)"))
    assert values["t"] == "QEMU" and "T" not in values


def test_ssh_only_options_stay_here() -> None:
    inv = scan_argv(["-a", "INFO", "-l", "bob", "-z", "pty", "h"])
    args = target_args(inv, inv.targets[0])
    assert "-l" not in args and "-z" not in args
    assert target_invocation(inv, inv.targets[0]).remote_user == "bob"


def test_remote_list_and_enumerate_answer_json() -> None:
    inv = scan_argv(["-a", "LIST=TERSE,TITLE", "-o", "label", "h"])
    assert target_args(inv, inv.targets[0]) == ["-a", "LIST=JSON", "-o", "ALL"]
    inv = scan_argv(
        [
            "-a",
            "ENUMERATE=BASEPATH:/srv/v m%/b,ALL,MACHINE",
            "-c",
            "/inv",
            "-C",
            "rebuild",
            "h",
            "localhost",
        ]
    )
    remote, local = inv.targets
    assert target_args(inv, remote) == [
        "-a", "ENUMERATE=JSON,BASEPATH:/srv/v m%/b,ALL", "-C", "off", "-o", "ALL",
    ]  # fmt: skip
    # A local target keeps its inventory: it stores its own rows.
    assert target_args(inv, local) == [
        "-a", "ENUMERATE=JSON,BASEPATH:/srv/v m%/b,ALL", "-c", "/inv", "-C", "rebuild", "-o", "ALL",
    ]  # fmt: skip


def test_values_looking_like_options_are_attached() -> None:
    assert options_argv({"c": "-odd", "d": "1"}) == ["-c-odd", "-d", "1"]
    assert scan_argv(options_argv({"a": "LIST", "c": "-odd"})).cache_path == "-odd"


def test_target_option_values() -> None:
    assert target_option_values(("-aLIST", "-d", "2")) == {"a": "LIST", "d": "2"}
    with pytest.raises(UsageError, match="makes no sense"):
        target_option_values(("-h",))
    with pytest.raises(UsageError, match="needs a value"):
        target_option_values(("-d",))


LABELS = st.text(
    st.characters(exclude_categories=["Cs", "Cc"]),
    min_size=1,
    max_size=20,
)


@given(LABELS, LABELS)
def test_any_label_reaches_the_target_unchanged(label: str, path: str) -> None:
    raw = f"l:{escape_suboption_arg(label)},F:{escape_suboption_arg(path)}"
    inv = scan_argv(["-a", f"CREATE={raw}", "h"])
    args = target_args(inv, inv.targets[0])
    remote = scan_argv(args)
    assert remote.action is not None
    assert [s.args for s in remote.action.suboptions] == [(label,), (path,)]
    assert replace(remote, targets=inv.targets) == inv
