"""Host groups (issue 13, point 4): group files parsed as data, #include and nested groups,
CONTEXT and member options in the original's order, cycles and bad files refused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.argscan import TargetWord, check_target_options, scan_argv, split_target, split_words
from ctys.errors import ConfError, CtysError, UsageError
from ctys.groups import GroupResolver, find_group, group_names, groups_path, parse_group_text
from ctys.invocation import Target
from ctys.remote.options import merged_options, target_invocation
from support.files import write_file

MIRROR = Path("/work/.mirror/ArnoCan+Unified-Sessions-Manager/repo")
LAB_LINE = "root@lab02'(-a create=l:LAB02,reuse -c local -g 1268x992:A11:ALL -b 1,2 )'"
LAB_OPTIONS = ("-a", "create=l:LAB02,reuse", "-c", "local", "-g", "1268x992:A11:ALL", "-b", "1,2")


write = write_file


@pytest.fixture
def gdir(tmp_path: Path) -> Path:
    folder = tmp_path / "groups"
    folder.mkdir()
    return folder


def members(gdir: Path, name: str, *extra: Path) -> tuple[Target, ...]:
    found = GroupResolver([gdir, *extra])(name)
    assert found is not None
    return found


# --- the line of the issue -----------------------------------------------------------------


def test_the_originals_lab_line_splits_into_user_host_and_option_words() -> None:
    assert split_target(LAB_LINE) == TargetWord("lab02", "root", LAB_OPTIONS)


def test_the_originals_lab_line_in_a_group_file_expands_to_one_target(gdir: Path) -> None:
    write(gdir, "desktops/tst/ctys-lab", f"#  -*- mode: conf; -*-\n\n#{LAB_LINE}\n{LAB_LINE}\n")
    assert members(gdir, "desktops/tst/ctys-lab") == (Target("lab02", "root", LAB_OPTIONS),)


# --- file syntax ---------------------------------------------------------------------------


def test_comments_blank_lines_commas_and_blanks_separate_members(gdir: Path) -> None:
    write(gdir, "g", "# a comment\n\n  tst000\ntst002,tst003 , tst004\n\ttst005  # inline\n")
    assert [t.host for t in members(gdir, "g")] == [
        "tst000", "tst002", "tst003", "tst004", "tst005",
    ]  # fmt: skip


def test_users_and_quoted_options_of_members(gdir: Path) -> None:
    write(gdir, "g", "u1@h1 'h2(-d 1)' h3\"(-a 'LIST=x y' -d 2)\"\n")
    assert members(gdir, "g") == (
        Target("h1", "u1"),
        Target("h2", None, ("-d", "1")),
        Target("h3", None, ("-a", "LIST=x y", "-d", "2")),
    )


def test_context_options_come_before_each_members_own(gdir: Path) -> None:
    write(gdir, "g", "CONTEXT'(-d 2 -b 0)'\nh1\nh2'(-d 5)'\n")
    assert members(gdir, "g") == (
        Target("h1", None, ("-d", "2", "-b", "0")),
        Target("h2", None, ("-d", "2", "-b", "0", "-d", "5")),
    )
    [h2] = [t for t in members(gdir, "g") if t.host == "h2"]
    assert merged_options(scan_argv(["-a", "LIST"]), h2)["d"] == "5"  # the member's wins


def test_parse_keeps_entries_in_file_order() -> None:
    group = parse_group_text("a\n#include x, y\nb\n", Path("/g"))
    assert [getattr(e, "name", None) or e.target.name for e in group.entries] == [  # type: ignore[union-attr]
        "a", "x", "y", "b",
    ]  # fmt: skip
    assert [i.line for i in group.includes] == [2, 2]
    assert len(group.members) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("h1(-d 1\n", "unbalanced"),
        ("h1 'h2\n", "unbalanced quote"),
        ("@h1\n", "bad user ''"),
        ("h1(-d 'x)\n", "unbalanced quote in 'h1(-d 'x)'"),
        ("h1(-d x\\)\n", "bad options"),
        ("#include\n", "#include names no group"),
    ],
)
def test_syntax_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfError) as info:
        parse_group_text("ok\n" + text, Path("/the/group"))
    assert str(info.value).startswith("/the/group:2: ")
    assert message in str(info.value)


@pytest.mark.parametrize("host", ["-oProxyCommand=touch%x", "$(touch x)", "a;b", "h`id`"])
def test_a_member_that_is_no_host_name_never_reaches_ssh(gdir: Path, host: str) -> None:
    write(gdir, "g", f"ok\n'{host}'\n")
    with pytest.raises(ConfError, match=r"g:2: bad host"):
        members(gdir, "g")


def test_checked_member_and_context_options_name_file_and_line(gdir: Path) -> None:
    write(gdir, "g", "ok\nh1(-d 1) h2(-d x)\n")
    with pytest.raises(ConfError, match=r"/g:2: bad value 'x' for -d"):
        GroupResolver([gdir], check=True)("g")
    write(gdir, "c", "h\n\nCONTEXT(-Q 1)\n")
    with pytest.raises(ConfError, match=r"/c:3: unknown option '-Q'"):
        GroupResolver([gdir], check=True)("c")
    assert GroupResolver([gdir])("g") is not None  # unchecked: listed as written


def test_checked_options_may_repeat_a_letter_across_context_and_member(gdir: Path) -> None:
    write(gdir, "g", "CONTEXT(-d 1)\nh(-d 2)\n")
    assert members(gdir, "g") == GroupResolver([gdir], check=True)("g")


# --- nesting -------------------------------------------------------------------------------


def test_include_takes_the_members_in_place_with_the_outer_context_first(gdir: Path) -> None:
    write(gdir, "inner", "CONTEXT(-d 3)\ni1'(-b 1)'\n")
    write(gdir, "outer", "CONTEXT'(-d 1 -b 0)'\no1\n#include inner\no2\n")
    assert members(gdir, "outer") == (
        Target("o1", None, ("-d", "1", "-b", "0")),
        Target("i1", None, ("-d", "1", "-b", "0", "-d", "3", "-b", "1")),
        Target("o2", None, ("-d", "1", "-b", "0")),
    )


def test_a_member_naming_a_group_expands_with_its_options_after_the_members(
    gdir: Path,
) -> None:
    write(gdir, "lab/x", "m1\nroot@m2(-d 1)\n")
    write(gdir, "top", "admin@lab/x'(-d 4)'\n")
    assert members(gdir, "top") == (
        Target("m1", "admin", ("-d", "4")),
        Target("m2", "root", ("-d", "1", "-d", "4")),  # the member's own user wins
    )


def test_relative_names_are_subfolders_of_any_search_folder(gdir: Path, tmp_path: Path) -> None:
    second = tmp_path / "second"
    write(second, "lab/x", "from-second\n")
    write(gdir, "lab/y", "from-first\n")
    assert [t.host for t in members(gdir, "lab/x", second)] == ["from-second"]
    assert [t.host for t in members(gdir, "lab/y", second)] == ["from-first"]


def test_the_first_folder_of_the_path_wins(gdir: Path, tmp_path: Path) -> None:
    second = tmp_path / "second"
    write(gdir, "g", "first\n")
    write(second, "g", "second\n")
    assert [t.host for t in members(gdir, "g", second)] == ["first"]
    assert [n for n, _ in group_names([gdir, second])] == ["g"]


@pytest.mark.parametrize(
    ("files", "start", "cycle"),
    [
        ({"a": "#include a\n"}, "a", "a -> a"),
        ({"a": "x\n#include b\n", "b": "#include a\n"}, "a", "a -> b -> a"),
        ({"a": "b\n", "b": "c\n", "c": "a(-d 1)\n"}, "a", "a -> b -> c -> a"),
        ({"a": "#include ./a\n"}, "a", "a -> ./a"),
    ],
)
def test_cycles_are_refused_naming_the_cycle(
    gdir: Path, files: dict[str, str], start: str, cycle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in files.items():
        write(gdir, name, text)
    monkeypatch.chdir(gdir)
    with pytest.raises(UsageError) as info:
        members(gdir, start)
    assert str(info.value) == f"group cycle: {cycle}"


def test_a_host_named_like_its_group_is_the_group_itself(gdir: Path) -> None:
    write(gdir, "lab02", "lab02\n")
    with pytest.raises(UsageError, match=r"^group cycle: lab02 -> lab02$"):
        members(gdir, "lab02")


def test_a_group_included_twice_without_a_cycle_is_fine(gdir: Path) -> None:
    write(gdir, "leaf", "h\n")
    write(gdir, "top", "#include leaf\n#include leaf\n")
    assert [t.host for t in members(gdir, "top")] == ["h", "h"]


def test_nesting_deeper_than_the_limit_is_refused(gdir: Path) -> None:
    for level in range(25):
        write(gdir, f"g{level}", f"#include g{level + 1}\n")
    write(gdir, "g25", "h\n")
    with pytest.raises(UsageError, match="nested deeper than 20"):
        members(gdir, "g0")


def test_a_missing_include_names_file_and_line(gdir: Path) -> None:
    write(gdir, "g", "h\n#include nowhere\n")
    with pytest.raises(ConfError, match=r"/g:2: #include: no group 'nowhere'"):
        members(gdir, "g")


# --- lookup --------------------------------------------------------------------------------


def test_a_name_that_is_no_group_is_a_host(gdir: Path) -> None:
    assert GroupResolver([gdir])("lab02") is None


def test_a_name_with_a_slash_must_be_a_group(gdir: Path) -> None:
    with pytest.raises(UsageError, match=r"no group 'lab/x' in CTYS_GROUPS_PATH \("):
        GroupResolver([gdir])("lab/x")


def test_dotdot_never_leaves_the_search_folders(gdir: Path) -> None:
    write(gdir.parent, "secret", "h\n")
    with pytest.raises(UsageError, match=r"'\.\.' is not allowed"):
        find_group("../secret", [gdir])


def test_an_absolute_path_names_a_file_directly(gdir: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "elsewhere", "h\n")
    assert [t.host for t in members(gdir, str(path))] == ["h"]


def test_the_search_path_is_home_first_then_the_variable() -> None:
    env = {"HOME": "/home/u", "CTYS_GROUPS_PATH": "/a::~/b:/home/u/.ctys/groups"}
    assert groups_path(env) == (Path("/home/u/.ctys/groups"), Path("/a"), Path("/home/u/b"))
    assert groups_path({"HOME": "/h"}) == (Path("/h/.ctys/groups"),)


# --- trust ---------------------------------------------------------------------------------


def test_a_group_file_others_may_write_is_refused(gdir: Path) -> None:
    path = write(gdir, "g", "h\n")
    path.chmod(0o664)
    with pytest.raises(CtysError) as info:
        members(gdir, "g")
    assert (
        str(info.value) == f"refusing group file {path}: writable by group or others (chmod go-w)"
    )


@pytest.mark.skipif(os.getuid() != 0, reason="chown needs root")
def test_a_group_file_of_another_user_is_refused(gdir: Path) -> None:
    path = write(gdir, "g", "h\n")
    os.chown(path, 65534, 65534)
    with pytest.raises(CtysError, match="owned by uid 65534, not by you or root"):
        members(gdir, "g")


# --- on the command line ----------------------------------------------------------------------


def test_a_group_is_usable_wherever_a_target_is_mixed_with_hosts(gdir: Path) -> None:
    write(gdir, "pair", "h1\nh2\n")
    inv = scan_argv(["-a", "LIST", "h0", "pair", "h3"], groups=GroupResolver([gdir]))
    assert [t.host for t in inv.targets] == ["h0", "h1", "h2", "h3"]


def test_repeated_targets_of_groups_are_dropped_as_the_original_without_a(gdir: Path) -> None:
    write(gdir, "pair", "h1\nh2\n")
    inv = scan_argv(["-a", "LIST", "h1", "pair", "pair"], groups=GroupResolver([gdir]))
    assert [t.host for t in inv.targets] == ["h1", "h2"]


def test_options_left_to_right_all_targets_then_context_member_call_site(gdir: Path) -> None:
    write(gdir, "g", "CONTEXT(-d 2 -b 1 -S INT)\nh(-d 3 -b 0)\n")
    argv = ["-a", "LIST", "-d", "1", "--", "(-d 9 -g 800x600)", "g(-d 4)"]
    [target] = scan_argv(argv, groups=GroupResolver([gdir])).targets
    assert target.options == (
        "-d", "9", "-g", "800x600", "-d", "2", "-b", "1", "-S", "INT", "-d", "3", "-b", "0",
        "-d", "4",
    )  # fmt: skip
    own = target_invocation(scan_argv(argv), target)
    assert (own.debug, own.background, own.geometry, own.signals_ignore) == (
        4, False, "800x600", ("INT",),
    )  # fmt: skip


def test_user_at_group_gives_the_user_to_members_without_one(gdir: Path) -> None:
    write(gdir, "g", "h1\nbob@h2\n")
    inv = scan_argv(["-a", "LIST", "alice@g"], groups=GroupResolver([gdir]))
    assert [(t.user, t.host) for t in inv.targets] == [("alice", "h1"), ("bob", "h2")]


def test_bad_options_on_a_group_word_fail_at_scan_time(gdir: Path) -> None:
    write(gdir, "g", "h1\n")
    with pytest.raises(UsageError, match="bad value 'x' for -d"):
        scan_argv(["-a", "LIST", "g(-d x)"], groups=GroupResolver([gdir]))


def test_an_empty_group_gives_no_targets(gdir: Path) -> None:
    write(gdir, "empty", "# nobody\n")
    with pytest.raises(UsageError, match="no targets: the groups empty have no members"):
        scan_argv(["-a", "LIST", "empty"], groups=GroupResolver([gdir]))
    assert scan_argv(["-a", "LIST", "empty", "h"], groups=GroupResolver([gdir])).targets == (
        Target("h"),
    )


# --- the original's shipped groups ------------------------------------------------------------


def _shipped(tmp_path: Path) -> Path:
    if not (MIRROR / "HEAD").exists():
        pytest.skip("the original's sources are not on this machine")
    listing = subprocess.run(
        ["git", "-C", str(MIRROR), "ls-tree", "-r", "--name-only", "HEAD", "ctys/conf/ctys/groups"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    folder = tmp_path / "shipped"
    for name in listing:
        text = subprocess.run(
            ["git", "-C", str(MIRROR), "show", f"HEAD:{name}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        write(folder, name.removeprefix("ctys/conf/ctys/groups/"), text)
    return folder


@pytest.mark.parametrize("check", [False, True])
def test_every_group_the_original_ships_expands(tmp_path: Path, check: bool) -> None:
    folder = _shipped(tmp_path)
    if check:
        try:
            check_target_options("probe", ("-c", "local", "-g", "1268x992:A11:ALL", "-b", "1,2"))
            check_target_options("probe", ("-d", "2,s:16,w:0,p", "-b", "sync,par"))
        except UsageError:
            pytest.skip("the original's -c/-g/-b/-d values are not valid options here yet")
    resolver = GroupResolver([folder], check=check)
    found = {name: resolver(name) for name, _ in group_names([folder])}
    lab03 = ("-a", "create=l:LAB03,reuse", "-c", "local", "-g", "1268x994:A21:ALL", "-b", "1,2")
    assert found["desktops/tst/ctys-lab"] == (
        Target("lab02", "root", LAB_OPTIONS),
        Target("lab03", "root", lab03),
    )
    assert [t.host for t in found["tst/tst002/ctys-tst-002"] or ()] == [
        f"tst00{n}" for n in range(6)
    ]
    context = ("-d", "2,s:16,w:0,p", "-b", "sync,par", "-c", "off", "-C", "on")
    assert found["db/ctys-allVMs"] == tuple(
        Target(host, user, context)
        for user in ("root", None)
        for host in ("lab02", "lab03", "lab05")
    )
    assert [t.host for t in found["netscan/ctys-all"] or ()] == ["lab01", "lab02", "lab03", "lab04"]


# --- properties ------------------------------------------------------------------------------

_HOSTS = st.from_regex(r"[a-z][a-z0-9.-]{0,10}", fullmatch=True)
_OPTION_VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
)


@given(st.lists(st.tuples(_HOSTS, st.sampled_from([" ", ",", " , ", "\t"])), max_size=8))
def test_member_lists_split_back_into_their_hosts(items: list[tuple[str, str]]) -> None:
    line = "".join(host + sep for host, sep in items)
    assert split_words(line, commas=True) == [host for host, _ in items]


@given(_HOSTS, st.lists(_OPTION_VALUES, min_size=1, max_size=5), st.sampled_from(["'", '"', ""]))
def test_member_option_words_survive_the_group_file_syntax(
    host: str, values: list[str], quote: str
) -> None:
    import shlex

    inner = shlex.join(values)
    if quote and quote in inner:
        return  # the surrounding quote style cannot hold its own quote
    [word] = split_words(f"{host}{quote}({inner}){quote}", commas=True)
    assert split_target(word) == TargetWord(host, None, tuple(values))


# A random acyclic set of groups: group i holds hosts, and includes or names groups > i.
_Groups = list[list[tuple[str, str, int]]]
# (A host named like a group is that group: g0 holding "g0" is a cycle, not a host.)
_NOT_GROUPS = _HOSTS.filter(lambda h: not (h.startswith("g") and h[1:].isdigit()))
_ENTRY = st.tuples(st.sampled_from(["host", "include", "member"]), _NOT_GROUPS, st.integers(0, 5))


@st.composite
def _group_sets(draw: st.DrawFn) -> list[list[tuple[str, str, int]]]:
    count = draw(st.integers(1, 5))
    groups = []
    for index in range(count):
        entries = draw(st.lists(_ENTRY, max_size=4))
        groups.append(
            [
                (
                    kind if index + 1 < count else "host",
                    host,
                    index + 1 + ref % max(1, count - index - 1),
                )
                for kind, host, ref in entries
            ]
        )
    return groups


def _reference(groups: list[list[tuple[str, str, int]]], index: int) -> list[str]:
    hosts: list[str] = []
    for kind, host, ref in groups[index]:
        hosts += [host] if kind == "host" else _reference(groups, ref)
    return hosts


def _write_groups(folder: Path, groups: list[list[tuple[str, str, int]]]) -> None:
    for index, entries in enumerate(groups):
        lines = [
            host if kind == "host" else f"#include g{ref}" if kind == "include" else f"g{ref}"
            for kind, host, ref in entries
        ]
        write(folder, f"g{index}", "\n".join(lines) + "\n")


@given(_group_sets())
def test_any_acyclic_nesting_expands_to_the_hosts_in_order(groups: _Groups) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        _write_groups(Path(tmp), groups)
        found = GroupResolver([Path(tmp)])("g0")
        assert [t.host for t in found or ()] == _reference(groups, 0)


@given(_group_sets(), st.sampled_from(["include", "member"]))
def test_a_back_edge_anywhere_is_a_cycle(groups: _Groups, kind: str) -> None:
    import tempfile

    last = len(groups) - 1
    groups[last].append((kind, "x", 0))  # the deepest group leads back to the first
    for index in range(last):  # ... and the first reaches it
        groups[index].append(("member", "x", index + 1))
    with tempfile.TemporaryDirectory() as tmp:
        _write_groups(Path(tmp), groups)
        with pytest.raises(UsageError, match=r"^group cycle: g0 -> .*g0$"):
            GroupResolver([Path(tmp)])("g0")
