"""``-- '(<opts>)'``: options for every target, superposed left to right with the targets'
own (issue 13, point 4); group members reach ssh as quoted words; trusted data files."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from ctys.argscan import scan_argv, split_words
from ctys.cli.dispatch import target_args
from ctys.errors import CtysError, UsageError
from ctys.groups import GroupResolver
from ctys.invocation import Target
from ctys.remote.options import target_invocation
from ctys.remote.ssh import ssh_argv
from ctys.trustedfile import read_trusted_text, untrusted_reason


def test_the_manuals_example_each_host_its_debug_level() -> None:
    # ctys(1): "...-d 6 -- ( -d 3 ) host01 host02( -d 1) host03(-d 0)..."
    inv = scan_argv(["-a", "LIST", "-d", "6", "--", "( -d 3 )", "host01", "host02( -d 1)",
                     "host03(-d 0)"])  # fmt: skip
    assert inv.debug == 6
    assert [target_invocation(inv, t).debug for t in inv.targets] == [3, 1, 0]


def test_several_option_words_for_all_superpose_left_to_right() -> None:
    inv = scan_argv(["-a", "LIST", "--", "(-d 1 -b 1)", "(-d 2)", "h"])
    assert inv.targets == (Target("h", None, ("-d", "1", "-b", "1", "-d", "2")),)
    own = target_invocation(inv, inv.targets[0])
    assert (own.debug, own.background) == (2, True)


def test_options_for_all_apply_to_the_default_local_target_too() -> None:
    inv = scan_argv(["-a", "LIST", "--", "(-d 2)"])
    assert inv.targets == (Target("localhost", None, ("-d", "2")),)
    assert inv.targets[0].is_local


def test_without_double_dash_a_leading_parenthesis_word_is_for_all_as_the_original() -> None:
    assert scan_argv(["-a", "LIST", "(-d 2)", "h"]).targets == (Target("h", None, ("-d", "2")),)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--", "h", "(-d 1)"], "options '(-d 1)' for all targets must come before the first"),
        (["--", "(-d 1"], "unbalanced parentheses in options for all targets '(-d 1'"),
        (["--", "(-d x)", "h"], "bad value 'x' for -d"),
        (["--", "(h2)", "h"], "non-option 'h2' in options of target '(h2)'"),
        (["--", "(-- (-d 1))", "h"], "unbalanced parentheses"),
    ],
)
def test_bad_options_for_all(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        scan_argv(["-a", "LIST", *argv])
    assert message in str(info.value)


def test_a_targets_own_value_may_repeat_a_letter_of_the_options_for_all() -> None:
    # Each part is checked on its own: "-d given twice" is no error across parts.
    [target] = scan_argv(["-a", "LIST", "--", "(-d 1)", "h(-d 2)"]).targets
    assert target.options == ("-d", "1", "-d", "2")


def test_split_words_keeps_parentheses_and_drops_outer_quotes() -> None:
    assert split_words("a'(-d 1,2 -b 1)',b c", commas=True) == ["a(-d 1,2 -b 1)", "b", "c"]
    assert split_words("a'(-d 1,2 -b 1)',b c") == ["a(-d 1,2 -b 1),b", "c"]
    assert split_words("h(-a 'LIST=x)' -d 1) k") == ["h(-a 'LIST=x)' -d 1)", "k"]
    assert split_words("'' \"a b\"") == ["", "a b"]


def test_a_group_members_option_values_reach_the_remote_shell_quoted(tmp_path: Path) -> None:
    (tmp_path / "g").write_text("hostA'(-p \"/tmp/x;$(touch y) `id`\")'\n")
    inv = scan_argv(["-a", "LIST", "g"], groups=GroupResolver([tmp_path]))
    [target] = inv.targets
    argv = ssh_argv(target, target_args(inv, target), user=None, pty=False,
                    connect_timeout=5, control_dir=None, env={})  # fmt: skip
    assert argv[-2] == "hostA" and argv[-3] == "--"
    words = shlex.split(argv[-1])
    assert words[words.index("-p") + 1] == "/tmp/x;$(touch y) `id`"


# --- trusted files ---------------------------------------------------------------------------


def test_a_private_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x\n")
    path.chmod(0o644)
    assert read_trusted_text(path, "group file") == "x\n"


@pytest.mark.parametrize(("mode", "bad"), [(0o600, False), (0o640, False), (0o620, True),
                                           (0o602, True), (0o777, True)])  # fmt: skip
def test_group_or_world_writable_is_refused(tmp_path: Path, mode: int, bad: bool) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    path.chmod(mode)
    assert (untrusted_reason(path.stat()) is not None) is bad


def test_owner_must_be_the_caller_or_root(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    info = path.stat()
    assert untrusted_reason(info, uid=info.st_uid) is None
    other = info.st_uid + 1 if info.st_uid + 1 != 0 else 2
    reason = untrusted_reason(info, uid=other)
    assert (reason is None) is (info.st_uid == 0)  # root's files are trusted by everyone


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(CtysError, match=r"refusing group file .*: not a regular file"):
        read_trusted_text(fifo, "group file")  # opened without blocking, never read
    with pytest.raises(CtysError, match="not a regular file"):
        read_trusted_text(tmp_path, "macro file")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CtysError, match=r"cannot read group file .*/nope: No such file"):
        read_trusted_text(tmp_path / "nope", "group file")


def test_a_file_too_large_for_definitions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"h\n" * (1 << 19) + b"x")
    path.chmod(0o644)
    with pytest.raises(CtysError, match=r"refusing group file .*: larger than 1048576 bytes"):
        read_trusted_text(path, "group file")
