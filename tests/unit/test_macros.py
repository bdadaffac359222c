"""Macros (issue 13, point 4): ``MACRO:<name>[%<file>][%ECHO|EVAL]`` from data files on
CTYS_MACRO_PATH, nested, cycles refused, nothing ever run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.errors import ConfError, CtysError, UsageError
from ctys.macros import (
    MacroSource,
    expand_argv,
    has_macro,
    macro_path,
    parse_macro_text,
    references,
)
from support.files import write_file

MIRROR = Path("/work/.mirror/ArnoCan+Unified-Sessions-Manager/repo")


def write(folder: Path, name: str, text: str) -> Path:
    return write_file(folder, name, text, 0o600)


@pytest.fixture
def mdir(tmp_path: Path) -> Path:
    folder = tmp_path / "macros"
    folder.mkdir()
    write(
        folder,
        "default",
        "# the default file\n"
        "F_LABEL = 3_label_10\n"
        "F_PM=1_PM_15\n"
        "TAB=tab_gen:macro:F_LABEL%%macro:F_PM\n"
        "listdefault=-a list=macro:TAB\n"
        "braced=-a enumerate={macro:TAB}\n"
        "two=hostA hostB'(-a LIST=L -d 1)'\n"
        "long=-a \\\n"
        "  list\n"
        "eq=-a CREATE=l:x,ARGSADD:S%-name%a=b\n",
    )
    write(folder, "other", "test000=-a enumerate=b:ctys,macro:F_LABEL\nF_LABEL=mine\n")
    return folder


def expand(mdir: Path, *argv: str) -> tuple[str, ...]:
    return expand_argv(argv, MacroSource([mdir])).words


# --- files ---------------------------------------------------------------------------------


def test_definitions_blanks_around_the_equals_sign_continuations_comments() -> None:
    macros = parse_macro_text("# c\n\n a = b  c \nx=1=2\nlong=p \\\nq\n", Path("/m"))
    assert {n: m.value for n, m in macros.items()} == {"a": "b c", "x": "1=2", "long": "p q"}
    assert macros["long"].line == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a=1\nno equals sign\n", "/m:2: not a macro definition"),
        ("a=1\n=x\n", "/m:2: not a macro definition"),
        ("a=1\n\nb=2\na=3\n", "/m:4: macro 'a' defined twice (also line 1)"),
        ("a=1 \\\n", "/m:1: the last line ends with"),
        ("na me=1\n", "/m:1: not a macro definition"),
    ],
)
def test_bad_files_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfError) as info:
        parse_macro_text(text, Path("/m"))
    assert str(info.value).startswith(message)


def test_the_path_is_the_variable_else_home(tmp_path: Path) -> None:
    assert macro_path({"HOME": "/h"}) == (Path("/h/.ctys/macros"),)
    assert macro_path({"HOME": "/h", "CTYS_MACRO_PATH": "/a:~/b::/a"}) == (
        Path("/a"),
        Path("/h/b"),
    )


def test_a_macro_file_others_may_write_is_refused(mdir: Path) -> None:
    (mdir / "default").chmod(0o646)
    with pytest.raises(CtysError, match=r"refusing macro file .*writable by group or others"):
        expand(mdir, "MACRO:F_PM")


@pytest.mark.skipif(os.getuid() != 0, reason="chown needs root")
def test_a_macro_file_of_another_user_is_refused(mdir: Path) -> None:
    os.chown(mdir / "default", 65534, 65534)
    with pytest.raises(CtysError, match="owned by uid 65534"):
        expand(mdir, "MACRO:F_PM")


# --- expansion -----------------------------------------------------------------------------


def test_a_macro_gives_several_words_in_its_place(mdir: Path) -> None:
    assert expand(mdir, "-t", "QEMU", "MACRO:listdefault", "host") == (
        "-t", "QEMU", "-a", "list=tab_gen:3_label_10%%1_PM_15", "host",
    )  # fmt: skip


def test_inside_a_word_prefix_and_suffix_stay(mdir: Path) -> None:
    assert expand(mdir, "-a", "LIST=x,MACRO:F_PM,y") == ("-a", "LIST=x,1_PM_15,y")
    assert expand(mdir, "ENUMERATE={macro:F_LABEL}%%z") == ("ENUMERATE=3_label_10%%z",)


def test_braces_lower_case_and_continuations(mdir: Path) -> None:
    assert expand(mdir, "Macro:braced") == ("-a", "enumerate=tab_gen:3_label_10%%1_PM_15")
    assert expand(mdir, "MACRO:long") == ("-a", "list")


def test_targets_with_options_stay_one_word(mdir: Path) -> None:
    assert expand(mdir, "MACRO:two") == ("hostA", "hostB(-a LIST=L -d 1)")


def test_percent_and_equals_inside_a_value_are_kept(mdir: Path) -> None:
    assert expand(mdir, "MACRO:eq") == ("-a", "CREATE=l:x,ARGSADD:S%-name%a=b")


def test_a_file_of_its_own_also_for_the_macros_it_uses(mdir: Path) -> None:
    assert expand(mdir, "MACRO:test000%other") == ("-a", "enumerate=b:ctys,mine")
    path = str(mdir / "other")
    assert expand(mdir, f"MACRO:F_LABEL%{path}") == ("mine",)


def test_echo_prints_the_expansion_eval_runs_nothing(mdir: Path, tmp_path: Path) -> None:
    write(mdir, "default", f"now=$(touch {tmp_path}/ran) `touch {tmp_path}/ran2`\nF=f\n")
    echoed = expand_argv(["MACRO:F%ECHO", "x"], MacroSource([mdir]))
    assert echoed.words == ("f", "x")
    assert echoed.echoes == ("MACRO:F%ECHO = f",)
    evaluated = expand_argv(["MACRO:now%EVAL"], MacroSource([mdir]))
    assert " ".join(evaluated.words) == f"$(touch {tmp_path}/ran) `touch {tmp_path}/ran2`"
    assert evaluated.echoes == ()
    assert not (tmp_path / "ran").exists() and not (tmp_path / "ran2").exists()


def test_optional_makes_an_unknown_macro_empty(mdir: Path) -> None:
    assert expand(mdir, "a", "MACRO:nothing%OPTIONAL", "b") == ("a", "b")
    with pytest.raises(UsageError, match=r"unknown macro 'nothing' in .*case-sensitive"):
        expand(mdir, "MACRO:nothing")
    with pytest.raises(UsageError, match="unknown macro 'f_pm'"):
        expand(mdir, "MACRO:f_pm")


@pytest.mark.parametrize(
    ("text", "start", "cycle"),
    [
        ("a=x macro:a\n", "a", "a -> a"),
        ("a=macro:b\nb=,{macro:c}\nc=macro:a\n", "a", "a -> b -> c -> a"),
    ],
)
def test_cycles_are_refused_naming_the_cycle(mdir: Path, text: str, start: str, cycle: str) -> None:
    write(mdir, "default", text)
    with pytest.raises(UsageError) as info:
        expand(mdir, f"MACRO:{start}")
    assert str(info.value) == f"macro cycle: {cycle}"


def test_one_macro_used_twice_is_no_cycle(mdir: Path) -> None:
    write(mdir, "default", "x=1\ny=macro:x%%macro:x\n")
    assert expand(mdir, "MACRO:y") == ("1%%1",)


def test_nesting_deeper_than_the_limit_is_refused(mdir: Path) -> None:
    write(mdir, "default", "".join(f"m{i}=macro:m{i + 1}\n" for i in range(30)) + "m30=end\n")
    with pytest.raises(UsageError, match="macros nested deeper than 20"):
        expand(mdir, "MACRO:m0")


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("MACRO:", "'MACRO:' names no macro"),
        ("MACRO:x%nofile", "no macro file 'nofile' in CTYS_MACRO_PATH"),
        ("MACRO:x%a%b", "names two macro files"),
        ("MACRO:x%../default", "no macro file '../default'"),
    ],
)
def test_bad_references(mdir: Path, word: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        expand(mdir, word)


def test_no_default_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no macro file 'default' in CTYS_MACRO_PATH"):
        expand_argv(["MACRO:x"], MacroSource([tmp_path]))


def test_references_lists_the_macros_a_value_uses() -> None:
    assert references("tab_gen:macro:F_A%%{MACRO:F_B}%%x") == ["F_A", "F_B"]
    assert references("plain") == []


@given(st.lists(st.text(max_size=20), max_size=8))
def test_a_command_line_without_a_macro_is_untouched_and_reads_nothing(argv: list[str]) -> None:
    if any(has_macro(word) for word in argv):
        return
    source = MacroSource([Path("/nonexistent")])
    assert expand_argv(argv, source).words == tuple(argv)
    assert source._files == {}


# --- the original's shipped macros -----------------------------------------------------------


def test_every_macro_the_original_ships_expands(tmp_path: Path) -> None:
    if not (MIRROR / "HEAD").exists():
        pytest.skip("the original's sources are not on this machine")
    for name in ("default", "basetest"):
        text = subprocess.run(
            ["git", "-C", str(MIRROR), "show", f"HEAD:ctys/conf/ctys/macros/{name}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        write(tmp_path, name, text)
    source = MacroSource([tmp_path])
    for name in ("default", "basetest"):
        for macro in source.macros(tmp_path / name):
            words = expand_argv([f"MACRO:{macro}%{name}"], source).words
            assert not any(has_macro(w) for w in words), macro
    assert expand_argv(["MACRO:ldefault"], source).words == (
        "-a",
        "list=tab_gen:3_label_10%%2_stype_8%%30_accel_5%%12_distro_12%%13_distrorel_15"
        "%%14_os_10%%15_osrel_10%%1_PM_15%%33_if_7%%7_TCP_15",
    )


# A random acyclic set of macros: macro i's value mixes words and references to macros > i.
_WORDS = st.from_regex(r"[a-z0-9_=-]{1,6}", fullmatch=True)


@st.composite
def _macro_sets(draw: st.DrawFn) -> list[list[str | int]]:
    count = draw(st.integers(1, 6))
    values: list[list[str | int]] = []
    for index in range(count):
        refs = st.integers(index + 1, count - 1) if index + 1 < count else _WORDS
        values.append(draw(st.lists(st.one_of(_WORDS, refs), min_size=1, max_size=4)))
    return values


def _flat(values: list[list[str | int]], index: int) -> list[str]:
    words: list[str] = []
    for part in values[index]:
        words += _flat(values, part) if isinstance(part, int) else [part]
    return words


@given(_macro_sets())
def test_any_acyclic_macro_set_expands_to_its_words(values: list[list[str | int]]) -> None:
    import tempfile

    text = "".join(
        f"m{i} = " + " ".join(f"macro:m{p}" if isinstance(p, int) else p for p in parts) + "\n"
        for i, parts in enumerate(values)
    )
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), "default", text)
        assert expand_argv(["x", "MACRO:m0", "y"], MacroSource([Path(tmp)])).words == (
            "x", *_flat(values, 0), "y",
        )  # fmt: skip


def test_a_macro_inside_a_targets_options_keeps_the_target_one_word(mdir: Path) -> None:
    assert expand(mdir, "host'(-a MACRO:F_PM -d 1)'", "MACRO:two") == (
        "host(-a 1_PM_15 -d 1)", "hostA", "hostB(-a LIST=L -d 1)",
    )  # fmt: skip
